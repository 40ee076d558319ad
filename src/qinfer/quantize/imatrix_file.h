// Reader and writer of llama.cpp's legacy binary importance-matrix file
// (imatrix.dat, as written by llama-imatrix before the GGUF-based format):
//   int32 n_entries (>= 1)
//   n_entries × { int32 name_len, name bytes, int32 ncall, int32 nval (>= 1),
//                 float32 values[nval] (sums of squared activations × ncall) }
//   optional: int32 last_call, int32 dataset_len, dataset bytes
// Values are divided by ncall when ncall > 0, as llama-quantize's load_imatrix does,
// so entries are what ggml_quantize_chunk receives as its importance vector.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace qinfer {

struct ImatrixFile {
  std::unordered_map<std::string, std::vector<float>> entries;  // tensor name → per-column importance
  int last_call = 0;     // chunks the matrix was computed on (0 when the file has no trailer)
  std::string dataset;   // dataset path recorded by llama-imatrix ("" when absent)

  // The importance vector for a tensor, or nullptr when the file has none for it.
  const std::vector<float>* find(const std::string& name) const {
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
  }
};

// Throws InputError("<path>: <problem>") for unreadable, truncated or malformed
// files and for non-finite values (llama-quantize refuses those too).
ImatrixFile read_imatrix_file(const std::string& path);
// The same from bytes in memory; `name` is used in messages.
ImatrixFile parse_imatrix(const unsigned char* data, size_t size, const std::string& name);

// One entry to write: per-column importance (mean of x² over the tokens seen),
// stored × ncall as llama-imatrix does, so that readers dividing by ncall get it back.
struct ImatrixRecord {
  std::string name;
  int32_t ncall = 0;
  std::vector<float> importance;
};

// Writes entries in the given order, then last_call and the dataset name,
// through an AtomicFile (core/atomic_file.h); InputError naming `path` on failure.
void write_imatrix_file(const std::string& path, const std::vector<ImatrixRecord>& records, int32_t last_call,
                        const std::string& dataset);

}  // namespace qinfer
