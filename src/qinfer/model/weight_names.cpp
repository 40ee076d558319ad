#include "qinfer/model/weight_names.h"

#include "qinfer/core/error.h"

namespace qinfer {

namespace {

using L = LayerTensorInfo;
using W = LayerWeights;

constexpr LayerTensorInfo kLayerTensors[] = {
    {LayerPart::AttnNorm, "attn_norm.weight", L::Norm, Dim::Embd, Dim::One, "input_layernorm.weight", 0, &W::attn_norm},
    {LayerPart::AttnQ, "attn_q.weight", L::Matrix, Dim::Embd, Dim::Q, "self_attn.q_proj.weight", 1, &W::wq},
    {LayerPart::AttnQBias, "attn_q.bias", L::Bias, Dim::Q, Dim::One, "self_attn.q_proj.bias", 1, &W::bq},
    {LayerPart::AttnK, "attn_k.weight", L::Matrix, Dim::Embd, Dim::Kv, "self_attn.k_proj.weight", 2, &W::wk},
    {LayerPart::AttnKBias, "attn_k.bias", L::Bias, Dim::Kv, Dim::One, "self_attn.k_proj.bias", 2, &W::bk},
    {LayerPart::AttnV, "attn_v.weight", L::Matrix, Dim::Embd, Dim::Kv, "self_attn.v_proj.weight", 0, &W::wv},
    {LayerPart::AttnVBias, "attn_v.bias", L::Bias, Dim::Kv, Dim::One, "self_attn.v_proj.bias", 0, &W::bv},
    {LayerPart::AttnOutput, "attn_output.weight", L::Matrix, Dim::Q, Dim::Embd, "self_attn.o_proj.weight", 0, &W::wo},
    {LayerPart::FfnNorm, "ffn_norm.weight", L::Norm, Dim::Embd, Dim::One, "post_attention_layernorm.weight", 0,
     &W::ffn_norm},
    {LayerPart::FfnGate, "ffn_gate.weight", L::Matrix, Dim::Embd, Dim::Ff, "mlp.gate_proj.weight", 0, &W::ffn_gate},
    {LayerPart::FfnUp, "ffn_up.weight", L::Matrix, Dim::Embd, Dim::Ff, "mlp.up_proj.weight", 0, &W::ffn_up},
    {LayerPart::FfnDown, "ffn_down.weight", L::Matrix, Dim::Ff, Dim::Embd, "mlp.down_proj.weight", 0, &W::ffn_down},
};

}  // namespace

int64_t dim_size(Dim d, const ModelConfig& c) {
  switch (d) {
    case Dim::One: return 1;
    case Dim::Embd: return c.n_embd;
    case Dim::Q: return c.q_dim();
    case Dim::Kv: return c.kv_dim();
    case Dim::Ff: return c.n_ff;
    case Dim::Vocab: return c.n_vocab;
  }
  return 0;
}

std::span<const LayerTensorInfo> layer_tensors() { return kLayerTensors; }

const LayerTensorInfo& layer_tensor(LayerPart part) {
  for (const LayerTensorInfo& t : kLayerTensors)
    if (t.part == part) return t;
  throw Error("no layer tensor " + std::to_string(int(part)));
}

std::string names::layer(int il, LayerPart part) { return "blk." + std::to_string(il) + "." + layer_tensor(part).gguf; }

}  // namespace qinfer
