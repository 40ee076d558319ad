// `--export hf`: the Hugging Face checkpoints (GPTQ, AWQ GEMM, bitsandbytes
// NF4/FP4) read back by a reader written here from the published layouts
// (REFERENCE.md §5.3–5.5: AutoGPTQ's pack, AutoAWQ's order map read through
// vLLM's reverse order, bitsandbytes' nibble order and quant state), whose
// dequantized weights must equal, bit for bit, the weights qinfer's export
// stands for; plus the safetensors writer's integer dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "qinfer/convert/hf_config.h"
#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/safetensors.h"
#include "qinfer/model/create.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/hf_export.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace qinfer;

namespace {

// A random llama with GQA (k_proj permuted by 2 heads, q_proj by 4) whose
// every linear weight fits groups of 64 and output packs of 8.
std::string tiny_model(const fs::path& dir, const std::string& arch = "llama") {
  const std::string path = (dir / "tiny.gguf").string();
  CreateOptions o;
  o.shape.arch = arch;
  o.shape.name = "tiny";
  o.shape.n_vocab = 320;
  o.shape.n_ctx_train = 256;
  o.shape.n_embd = 128;
  o.shape.n_ff = 256;
  o.shape.n_layer = 2;
  o.shape.n_head = 4;
  o.shape.n_head_kv = 2;
  o.type = TypeId::F32;
  o.n_threads = 1;
  create_model(path, o);
  return path;
}

std::string calib_file(const fs::path& dir) {
  std::string text;
  const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "then ", "ran ", "home. "};
  for (int i = 0; i < 3000; ++i) text += words[(i * 7 + i / 3) % 10];
  const fs::path p = dir / "calib.txt";
  std::ofstream(p) << text;
  return p.string();
}

HfExportOptions options(const std::string& model, const fs::path& dir, HfFormat f) {
  HfExportOptions o;
  o.input = model;
  o.dir = dir.string();
  o.format = f;
  o.group = 64;
  o.threads = 1;
  o.keep_dequantized = true;
  o.calibrated.calib.file = calib_file(dir.parent_path());
  o.calibrated.calib.n_samples = 8;
  o.calibrated.calib.window = 32;
  return o;
}

// The test's own HF→GGUF row map, written from convert's direction:
// GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i.
int64_t gguf_row(int64_t hf_row, int64_t rows, int64_t heads) {
  if (heads == 0) return hf_row;
  const int64_t hd = rows / heads, h = hf_row / hd, r = hf_row % hd;
  const int64_t j = r / (hd / 2), i = r % (hd / 2);
  return h * hd + 2 * i + j;
}

int64_t permute_heads(const std::string& hf_module, const ModelConfig& c) {
  if (hf_module.find("q_proj") != std::string::npos) return c.n_head;
  if (hf_module.find("k_proj") != std::string::npos) return c.n_head_kv;
  return 0;
}

template <typename T>
T at(const StTensor& t, int64_t i) {
  T v;
  std::memcpy(&v, t.data + size_t(i) * sizeof(T), sizeof(T));
  return v;
}

const StTensor& need(const SafetensorsFile& f, const std::string& name) {
  const StTensor* t = f.find(name);
  if (!t) throw std::runtime_error("missing tensor " + name);
  return *t;
}

float f16(const StTensor& t, int64_t i) { return fp16_to_f32(at<uint16_t>(t, i)); }

// Every linear weight: HF module name → GGUF name.
std::vector<std::pair<std::string, std::string>> modules(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::pair<const char*, const char*> parts[] = {
      {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"}, {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"mlp.gate_proj", "ffn_gate"}, {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  for (int l = 0; l < c.n_layer; ++l)
    for (const auto& [hf, gguf] : parts)
      out.push_back({"model.layers." + std::to_string(l) + "." + hf, "blk." + std::to_string(l) + "." + gguf + ".weight"});
  return out;
}

std::vector<float> original(const Model& m, const std::string& name) {
  const Tensor& t = *m.find(name);
  std::vector<float> w(size_t(t.n_elements()));
  for (int64_t r = 0; r < t.rows(); ++r) type_info(t.type).to_float(t.row(r), &w[size_t(r * t.ne[0])], t.ne[0]);
  return w;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(SafetensorsWriter, IntegerDtypesAndMetadataRoundTrip) {
  const fs::path p = test::scratch_dir() / "t.safetensors";
  std::vector<StTensorOut> ts;
  ts.push_back({"b.i32", StDtype::I32, {2, 3}, std::vector<uint8_t>(24)});
  ts.push_back({"a.u8", StDtype::U8, {5}, {1, 2, 3, 4, 255}});
  ts.push_back({"c.i8", StDtype::I8, {1, 1}, {0x80}});
  for (int i = 0; i < 24; ++i) ts[0].data[size_t(i)] = uint8_t(i * 11);
  write_safetensors(p.string(), ts, {{"format", "pt"}});
  auto f = SafetensorsFile::open(p.string());
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[0].name, "a.u8");  // sorted
  for (const StTensorOut& t : ts) {
    const StTensor* r = f->find(t.name);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->dtype, t.dtype);
    EXPECT_EQ(r->shape, t.shape);
    ASSERT_EQ(r->nbytes, t.data.size());
    EXPECT_EQ(std::memcmp(r->data, t.data.data(), t.data.size()), 0);
  }
  EXPECT_FALSE(st_dtype_is_float(StDtype::I32));
  EXPECT_TRUE(st_dtype_is_float(StDtype::BF16));
}

TEST(HfExport, RowMapInvertsConvertsPermutation) {
  for (int64_t heads : {1, 2, 4})
    for (int64_t r = 0; r < 64; ++r) EXPECT_EQ(hf_row_to_gguf(r, 64, heads), gguf_row(r, 64, heads));
}

TEST(HfExport, GptqReadsBackBitForBit) {
  const fs::path root = test::scratch_dir();
  const std::string model = tiny_model(root);
  HfExportOptions o = options(model, root / "gptq", HfFormat::Gptq);
  const HfExportSummary s = export_hf(o);
  EXPECT_EQ(s.n_quantized, 14);
  EXPECT_TRUE(s.skipped.empty());
  auto m = load_model(model);
  auto f = SafetensorsFile::open((root / "gptq/model.safetensors").string());
  const nlohmann::json qc = read_json(root / "gptq/quantize_config.json");
  EXPECT_EQ(qc["bits"], 4);
  EXPECT_EQ(qc["group_size"], 64);
  EXPECT_EQ(qc["quant_method"], "gptq");
  EXPECT_EQ(qc["desc_act"], false);
  EXPECT_EQ(read_json(root / "gptq/config.json")["quantization_config"], qc);
  for (const auto& [hf, gguf] : modules(m->config)) {
    SCOPED_TRACE(hf);
    const StTensor& qw = need(*f, hf + ".qweight");
    const StTensor& qz = need(*f, hf + ".qzeros");
    const StTensor& sc = need(*f, hf + ".scales");
    const StTensor& gi = need(*f, hf + ".g_idx");
    const int64_t K = gi.shape[0], N = qw.shape[1];
    ASSERT_EQ(qw.dtype, StDtype::I32);
    ASSERT_EQ(qw.shape, (std::vector<int64_t>{K / 8, N}));
    ASSERT_EQ(qz.shape, (std::vector<int64_t>{K / 64, N / 8}));
    ASSERT_EQ(sc.shape, (std::vector<int64_t>{K / 64, N}));
    const std::vector<float>& want = s.dequantized.at(gguf);
    const int64_t heads = permute_heads(hf, m->config);
    int64_t mismatches = 0;
    std::vector<float> hf_w(size_t(N * K));
    for (int64_t i = 0; i < K; ++i)
      for (int64_t n = 0; n < N; ++n) {
        const int32_t g = at<int32_t>(gi, i);
        ASSERT_EQ(g, i / 64);
        const int q = int((at<uint32_t>(qw, (i / 8) * N + n) >> (4 * (i % 8))) & 15);
        const int z = int((at<uint32_t>(qz, g * (N / 8) + n / 8) >> (4 * (n % 8))) & 15) + 1;  // v1: zero − 1 stored
        const float w = f16(sc, g * N + n) * float(q - z);
        hf_w[size_t(gguf_row(n, N, heads) * K + i)] = w;
        mismatches += w != want[size_t(gguf_row(n, N, heads) * K + i)];
      }
    EXPECT_EQ(mismatches, 0);
    // And it is a 4-bit approximation of the weights it came from.
    EXPECT_LT(rel_error(hf_w, original(*m, gguf)), 0.2);
  }
  // The float tensors are fp16 copies.
  const StTensor& emb = need(*f, "model.embed_tokens.weight");
  const std::vector<float> e = original(*m, "token_embd.weight");
  for (size_t i = 0; i < e.size(); i += 97) EXPECT_EQ(f16(emb, int64_t(i)), fp16_to_f32(f32_to_fp16(e[i])));
  // qinfer's own Hugging Face reader takes the config back.
  const HfConfig c = read_hf_config((root / "gptq").string());
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.heads_kv(), 2);
  EXPECT_EQ(c.n_ff.value_or(0), 256);
}

// Σ_j a[:, j]·b[j, :] (a: n × k, b: k × m, row-major): the map a linear
// reading another's output computes, whatever scales were moved between them.
std::vector<float> matmul(const std::vector<float>& a, const std::vector<float>& b, int64_t n, int64_t k, int64_t m) {
  std::vector<float> c(size_t(n * m), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t l = 0; l < m; ++l) c[size_t(i * m + l)] += a[size_t(i * k + j)] * b[size_t(j * m + l)];
  return c;
}

// The weights times the RMSNorm weight they read: W[:, j]·norm[j].
std::vector<float> times_norm(std::vector<float> w, const std::vector<float>& norm) {
  const size_t k = norm.size();
  for (size_t i = 0; i < w.size(); ++i) w[i] *= norm[i % k];
  return w;
}

TEST(HfExport, AwqGemmReadsBackBitForBit) {
  const fs::path root = test::scratch_dir();
  const std::string model = tiny_model(root);
  const HfExportSummary s = export_hf(options(model, root / "awq", HfFormat::Awq));
  EXPECT_EQ(s.n_quantized, 14);
  auto m = load_model(model);
  auto f = SafetensorsFile::open((root / "awq/model.safetensors").string());
  const nlohmann::json qc = read_json(root / "awq/config.json")["quantization_config"];
  EXPECT_EQ(qc["version"], "gemm");
  EXPECT_EQ(qc["zero_point"], true);
  const int reverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};  // vLLM's AWQ_REVERSE_ORDER
  std::map<std::string, std::vector<float>> file_w;  // GGUF name → the file's weights, GGUF order
  for (const auto& [hf, gguf] : modules(m->config)) {
    SCOPED_TRACE(hf);
    const StTensor& qw = need(*f, hf + ".qweight");
    const StTensor& qz = need(*f, hf + ".qzeros");
    const StTensor& sc = need(*f, hf + ".scales");
    EXPECT_EQ(f->find(hf + ".g_idx"), nullptr);
    const int64_t K = qw.shape[0], N = qw.shape[1] * 8;
    ASSERT_EQ(sc.shape, (std::vector<int64_t>{K / 64, N}));
    const std::vector<float>& want = s.dequantized.at(gguf);
    const int64_t heads = permute_heads(hf, m->config);
    int64_t mismatches = 0;
    std::vector<float> hf_w(size_t(N * K));
    for (int64_t i = 0; i < K; ++i)
      for (int64_t n = 0; n < N; ++n) {
        const int64_t g = i / 64, shift = 4 * reverse[n % 8];
        const int q = int((at<uint32_t>(qw, i * (N / 8) + n / 8) >> shift) & 15);
        const int z = int((at<uint32_t>(qz, g * (N / 8) + n / 8) >> shift) & 15);
        const float w = float(q - z) * f16(sc, g * N + n);
        hf_w[size_t(gguf_row(n, N, heads) * K + i)] = w;
        mismatches += w != want[size_t(gguf_row(n, N, heads) * K + i)];
      }
    EXPECT_EQ(mismatches, 0);
    file_w[gguf] = std::move(hf_w);
  }
  // AWQ's searched scales are in the checkpoint: folded into the RMSNorm
  // weights (q/k/v, gate/up) and the v/up rows (o, down). The file's weights
  // fit its own norms better than the original ones (they would not if the
  // scales were on one side only), and each norm·weight and v→o, up→down
  // product stays within quantization error of the model's.
  const ModelConfig& c = m->config;
  const int64_t E = c.n_embd, F = c.n_ff, hd = c.head_dim, group = c.n_head / c.n_head_kv;
  double moved = 0;
  for (int l = 0; l < c.n_layer; ++l) {
    SCOPED_TRACE("layer " + std::to_string(l));
    const std::string blk = "blk." + std::to_string(l) + ".", hf = "model.layers." + std::to_string(l) + ".";
    const auto norm_of = [&](const std::string& name) {
      const StTensor& t = need(*f, hf + name);
      std::vector<float> v(size_t(t.shape[0]));
      for (size_t i = 0; i < v.size(); ++i) v[i] = f16(t, int64_t(i));
      return v;
    };
    const auto orig = [&](const std::string& t) { return original(*m, blk + t + ".weight"); };
    const auto file = [&](const std::string& t) { return file_w.at(blk + t + ".weight"); };
    const std::vector<float> an = norm_of("input_layernorm.weight"), fn = norm_of("post_attention_layernorm.weight");
    const std::vector<float> an0 = orig("attn_norm"), fn0 = orig("ffn_norm");
    moved = std::max({moved, rel_error(an, an0), rel_error(fn, fn0)});
    for (const char* t : {"attn_q", "attn_k", "attn_v", "ffn_gate", "ffn_up"}) {
      const std::vector<float>& n = t[0] == 'a' ? an : fn;
      const std::vector<float>& n0 = t[0] == 'a' ? an0 : fn0;
      const std::vector<float> want = times_norm(orig(t), n0);
      const double e = rel_error(times_norm(file(t), n), want);
      EXPECT_LT(e, 0.2) << t;
      EXPECT_LT(e, rel_error(times_norm(file(t), n0), want)) << t;
    }
    const std::vector<float> ud = matmul(orig("ffn_down"), orig("ffn_up"), E, F, E);
    const double e_ud = rel_error(matmul(file("ffn_down"), file("ffn_up"), E, F, E), ud);
    EXPECT_LT(e_ud, 0.2);
    // o reads every head's V: V's rows repeated for the heads that share them (GQA).
    const auto expand = [&](const std::vector<float>& v) {
      std::vector<float> x(size_t(c.n_head * hd * E));
      for (int64_t j = 0; j < c.n_head * hd; ++j)
        std::copy_n(&v[size_t(((j / hd) / group * hd + j % hd) * E)], E, &x[size_t(j * E)]);
      return x;
    };
    const int64_t K = c.n_head * hd;
    const std::vector<float> ov = matmul(orig("attn_output"), expand(orig("attn_v")), E, K, E);
    const double e_ov = rel_error(matmul(file("attn_output"), expand(file("attn_v")), E, K, E), ov);
    EXPECT_LT(e_ov, 0.2);
  }
  EXPECT_GT(moved, 0.01);  // the scales were searched, not all 1
}

TEST(HfExport, BitsandbytesNf4AndFp4ReadBackBitForBit) {
  const fs::path root = test::scratch_dir();
  const std::string model = tiny_model(root);
  auto m = load_model(model);
  for (HfFormat fmt : {HfFormat::Nf4, HfFormat::Fp4})
    for (bool dq : {false, true}) {
      const std::string qt = fmt == HfFormat::Nf4 ? "nf4" : "fp4";
      SCOPED_TRACE(qt + (dq ? "+dq" : ""));
      HfExportOptions o = options(model, root / (qt + std::to_string(dq)), fmt);
      o.double_quant = dq;
      const HfExportSummary s = export_hf(o);
      auto f = SafetensorsFile::open(o.dir + "/model.safetensors");
      const nlohmann::json qc = read_json(o.dir + "/config.json")["quantization_config"];
      EXPECT_EQ(qc["bnb_4bit_quant_type"], qt);
      EXPECT_EQ(qc["bnb_4bit_use_double_quant"], dq);
      for (const auto& [hf, gguf] : modules(m->config)) {
        SCOPED_TRACE(hf);
        const std::string w = hf + ".weight";
        const StTensor& packed = need(*f, w);
        const StTensor& state = need(*f, w + ".quant_state.bitsandbytes__" + qt);
        const nlohmann::json js = nlohmann::json::parse(state.data, state.data + state.nbytes);
        EXPECT_EQ(js["quant_type"], qt);
        EXPECT_EQ(js["blocksize"], 64);
        const int64_t N = js["shape"][0], K = js["shape"][1], n = N * K;
        ASSERT_EQ(packed.shape, (std::vector<int64_t>{(n + 1) / 2, 1}));
        const StTensor& qmap = need(*f, w + ".quant_map");
        const StTensor& absmax = need(*f, w + ".absmax");
        const int64_t nb = (n + 63) / 64;
        std::vector<float> amax(static_cast<size_t>(nb));
        if (dq) {
          ASSERT_EQ(absmax.dtype, StDtype::U8);
          const StTensor& nested = need(*f, w + ".nested_absmax");
          const StTensor& nmap = need(*f, w + ".nested_quant_map");
          EXPECT_EQ(js["nested_blocksize"], 256);
          const float offset = js["nested_offset"];
          for (int64_t b = 0; b < nb; ++b)
            amax[size_t(b)] = at<float>(nmap, at<uint8_t>(absmax, b)) * at<float>(nested, b / 256) + offset;
        } else {
          ASSERT_EQ(absmax.dtype, StDtype::F32);
          for (int64_t b = 0; b < nb; ++b) amax[size_t(b)] = at<float>(absmax, b);
        }
        const std::vector<float>& want = s.dequantized.at(gguf);
        const int64_t heads = permute_heads(hf, m->config);
        std::vector<float> hf_w(static_cast<size_t>(n));
        int64_t mismatches = 0;
        for (int64_t e = 0; e < n; ++e) {
          const uint8_t byte = at<uint8_t>(packed, e / 2);
          const int code = e % 2 == 0 ? byte >> 4 : byte & 15;  // element 2k: high nibble
          const float v = at<float>(qmap, code) * amax[size_t(e / 64)];
          const int64_t r = e / K, c = e % K;
          hf_w[size_t(gguf_row(r, N, heads) * K + c)] = v;
          mismatches += v != want[size_t(gguf_row(r, N, heads) * K + c)];
        }
        EXPECT_EQ(mismatches, 0);
        EXPECT_LT(rel_error(hf_w, original(*m, gguf)), 0.2);
      }
    }
}

TEST(HfExport, ShapesTheGridCannotTakeStayFp16AndAreListed) {
  const fs::path root = test::scratch_dir();
  const std::string model = tiny_model(root);
  HfExportOptions o = options(model, root / "g256", HfFormat::Gptq);
  o.group = 256;  // only ffn_down's 256-wide rows fit
  const HfExportSummary s = export_hf(o);
  EXPECT_EQ(s.n_quantized, 2);
  EXPECT_EQ(s.skipped.size(), 12u);
  auto f = SafetensorsFile::open(o.dir + "/model.safetensors");
  EXPECT_NE(f->find("model.layers.0.mlp.down_proj.qweight"), nullptr);
  const StTensor* q = f->find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, StDtype::F16);
  const nlohmann::json qc = read_json(o.dir + "/quantize_config.json");
  EXPECT_TRUE(qc["dynamic"].contains("-:model\\.layers\\.0\\.self_attn\\.q_proj$"));
  EXPECT_FALSE(qc["dynamic"].contains("-:model\\.layers\\.0\\.mlp\\.down_proj$"));
}

TEST(HfExport, BadInputIsOneLineAndWritesNothing) {
  const fs::path root = test::scratch_dir();
  const std::string model = tiny_model(root);
  HfExportOptions o = options(model, root / "bad", HfFormat::Gptq);
  o.bits = 3;
  EXPECT_THROW(export_hf(o), InputError);
  o.bits = 4;
  o.group = 100;
  EXPECT_THROW(export_hf(o), InputError);
  o.group = 64;
  o.calibrated.calib.n_samples = 100000;  // more than the text holds
  EXPECT_THROW(export_hf(o), InputError);
  HfExportOptions a = options(model, root / "bad", HfFormat::Awq);
  a.double_quant = true;
  EXPECT_THROW(export_hf(a), InputError);
  EXPECT_FALSE(fs::exists(root / "bad"));
  EXPECT_THROW(parse_hf_format("rtn"), InputError);
}
