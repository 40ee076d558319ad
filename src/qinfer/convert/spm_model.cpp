#include "qinfer/convert/spm_model.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "qinfer/core/error.h"

namespace qinfer {

namespace {

// A bounded view of protobuf wire data; every read checks the bounds.
class Wire {
 public:
  Wire(const uint8_t* p, size_t n, const std::string& name, const char* what)
      : p_(p), end_(p + n), name_(name), what_(what) {}

  bool done() const { return p_ >= end_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) fail("truncated varint");
      const uint8_t b = *p_++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  uint32_t fixed32() {
    if (end_ - p_ < 4) fail("truncated fixed32");
    uint32_t v = uint32_t(p_[0]) | uint32_t(p_[1]) << 8 | uint32_t(p_[2]) << 16 | uint32_t(p_[3]) << 24;
    p_ += 4;
    return v;
  }
  Wire bytes(const char* what) {
    const uint64_t n = varint();
    if (n > uint64_t(end_ - p_)) fail("length-delimited field runs past the end");
    Wire w(p_, size_t(n), name_, what);
    p_ += n;
    return w;
  }
  std::string str() {
    Wire w = bytes(what_);
    return std::string(reinterpret_cast<const char*>(w.p_), size_t(w.end_ - w.p_));
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1:
        if (end_ - p_ < 8) fail("truncated fixed64");
        p_ += 8;
        return;
      case 2: bytes(what_); return;
      case 5: fixed32(); return;
      default: fail("unsupported wire type " + std::to_string(wire_type));
    }
  }
  // Reads a key; false at the end.
  bool key(uint32_t* field, uint32_t* wire_type) {
    if (done()) return false;
    const uint64_t k = varint();
    *field = uint32_t(k >> 3);
    *wire_type = uint32_t(k & 7);
    if (*field == 0) fail("field number 0");
    return true;
  }
  void expect(uint32_t wire_type, uint32_t want, uint32_t field) {
    if (wire_type != want)
      fail("field " + std::to_string(field) + " has wire type " + std::to_string(wire_type) + ", expected " +
           std::to_string(want));
  }
  [[noreturn]] void fail(const std::string& msg) const {
    throw InputError(name_ + ": not a SentencePiece model: " + what_ + ": " + msg);
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const std::string& name_;
  const char* what_;
};

SpmPiece read_piece(Wire w) {
  SpmPiece sp;
  bool has_piece = false;
  uint32_t field, wt;
  while (w.key(&field, &wt)) {
    if (field == 1) {
      w.expect(wt, 2, field);
      sp.piece = w.str();
      has_piece = true;
    } else if (field == 2) {
      w.expect(wt, 5, field);
      const uint32_t bits = w.fixed32();
      std::memcpy(&sp.score, &bits, 4);
    } else if (field == 3) {
      w.expect(wt, 0, field);
      const uint64_t t = w.varint();
      if (t < 1 || t > 6) w.fail("piece type " + std::to_string(t) + " is not 1..6");
      sp.type = int32_t(t);
    } else {
      w.skip(wt);
    }
  }
  if (!has_piece) w.fail("a piece without text");
  return sp;
}

void read_trainer(Wire w, SpmModel& m) {
  uint32_t field, wt;
  while (w.key(&field, &wt)) {
    auto as_int = [&] {
      w.expect(wt, 0, field);
      return int32_t(uint32_t(w.varint()));  // int32 negatives are sign-extended varints
    };
    switch (field) {
      case 3: m.model_type = as_int(); break;
      case 4: m.vocab_size = as_int(); break;
      case 35: m.byte_fallback = as_int() != 0; break;
      case 40: m.unk_id = as_int(); break;
      case 41: m.bos_id = as_int(); break;
      case 42: m.eos_id = as_int(); break;
      case 43: m.pad_id = as_int(); break;
      default: w.skip(wt);
    }
  }
}

void read_normalizer(Wire w, SpmModel& m) {
  uint32_t field, wt;
  while (w.key(&field, &wt)) {
    if (field == 3 || field == 4) {
      w.expect(wt, 0, field);
      (field == 3 ? m.add_dummy_prefix : m.remove_extra_whitespaces) = w.varint() != 0;
    } else {
      w.skip(wt);
    }
  }
}

}  // namespace

SpmModel parse_spm_model(const uint8_t* data, size_t size, const std::string& name) {
  SpmModel m;
  Wire w(data, size, name, "ModelProto");
  uint32_t field, wt;
  while (w.key(&field, &wt)) {
    if (field == 1) {
      w.expect(wt, 2, field);
      if (m.pieces.size() >= (size_t(1) << 24)) w.fail("more than 2^24 pieces");
      m.pieces.push_back(read_piece(w.bytes("SentencePiece")));
    } else if (field == 2) {
      w.expect(wt, 2, field);
      read_trainer(w.bytes("TrainerSpec"), m);
    } else if (field == 3) {
      w.expect(wt, 2, field);
      read_normalizer(w.bytes("NormalizerSpec"), m);
    } else {
      w.skip(wt);
    }
  }
  if (m.pieces.empty()) w.fail("no pieces");
  return m;
}

SpmModel read_spm_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_spm_model(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

}  // namespace qinfer
