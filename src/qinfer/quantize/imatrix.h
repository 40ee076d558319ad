// `qinfer imatrix`: llama-imatrix's importance matrix. The model runs over
// the text in chunks of n_ctx tokens (the first token of each chunk replaced
// by BOS); for every blk.* matmul weight the collector adds up the squared
// input activations per column over all tokens and counts the calls. The
// result is written in llama.cpp's legacy imatrix.dat format, which
// llama-quantize --imatrix and qinfer quantize --imatrix read.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"

namespace qinfer {

class ImatrixCollector : public MatmulObserver {
 public:
  struct Entry {
    std::vector<float> sums;  // per column: sum over tokens of x²
    int64_t tokens = 0;       // rows seen (llama.cpp's per-column count; equal for every column)
    int ncall = 0;
  };

  void on_matmul(const Tensor& w, const float* x, int n_tok) override;

  // llama.cpp's legacy format (imatrix_file.h) with importance = sums / tokens,
  // entries in llama.cpp's tensor order; InputError naming `path` on failure.
  void write(const std::string& path, const std::string& dataset) const;

  const std::map<std::string, Entry>& entries() const { return entries_; }
  int last_call() const { return last_call_; }

 private:
  std::map<std::string, Entry> entries_;
  int last_call_ = 0;
};

struct ImatrixParams {
  int n_ctx = 512;     // tokens per chunk
  int n_chunks = -1;   // -1: every full chunk of the text
  int n_batch = 512;   // tokens per forward pass (llama.cpp's default micro-batch)
  int n_threads = 0;
  KvCacheType cache_type;  // the cache the quantized model will run with
  int kv_block = 16;
};

// Runs the model over `tokens` (already tokenized with BOS, as
// common_tokenize(add_special = true) does) into `collector`; returns the
// number of chunks. on_chunk(i, n) reports progress.
int collect_imatrix(const Model& model, std::vector<int32_t> tokens, const ImatrixParams& params,
                    ImatrixCollector& collector, const std::function<void(int, int)>& on_chunk = {});

}  // namespace qinfer
