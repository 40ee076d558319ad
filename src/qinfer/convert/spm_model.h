// SentencePiece's tokenizer.model (a ModelProto protobuf), read without a
// protobuf dependency: only the fields a GGUF vocabulary needs.
//   ModelProto      1: repeated SentencePiece pieces, 2: TrainerSpec, 3: NormalizerSpec
//   SentencePiece   1: string piece, 2: float score, 3: enum type
//                   (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)
//   TrainerSpec     3: model_type (1 unigram, 2 bpe, 3 word, 4 char), 4: vocab_size,
//                   35: byte_fallback, 40..43: unk/bos/eos/pad ids
//   NormalizerSpec  3: add_dummy_prefix, 4: remove_extra_whitespaces
// Unknown fields are skipped by wire type, as protobuf readers do.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qinfer {

struct SpmPiece {
  std::string piece;
  float score = 0.0f;
  int32_t type = 1;
};

struct SpmModel {
  std::vector<SpmPiece> pieces;
  int32_t model_type = 1;
  int32_t vocab_size = 0;  // as trained; 0 when absent
  bool byte_fallback = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
};

// Throws InputError("<path>: <problem>") for a truncated or malformed file.
SpmModel read_spm_model(const std::string& path);
SpmModel parse_spm_model(const uint8_t* data, size_t size, const std::string& name);

}  // namespace qinfer
