// Reading SentencePiece `tokenizer.model` files: a protobuf ModelProto, decoded here by a minimal,
// bounds-checked wire-format reader (no protobuf dependency). Fields used (sentencepiece_model.proto):
//   ModelProto: 1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
//   SentencePiece: 1 piece (string), 2 score (float), 3 type (enum: 1 normal, 2 unknown, 3 control,
//                  4 user defined, 5 unused, 6 byte: the same numbers as GGUF's tokenizer.ggml.token_type)
//   TrainerSpec: 3 model_type (1 unigram, 2 bpe, 3 word, 4 char), 40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id
//   NormalizerSpec: 3 add_dummy_prefix (bool, default true)
// Only BPE models are accepted: the engine's SentencePiece encoder is the BPE merge-by-score algorithm.
#include <cstring>

#include "core/mapped_file.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool done() const { return p_ >= end_; }

  Status varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return format_error("truncated varint");
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return Status::Ok();
    }
    return format_error("varint longer than 10 bytes");
  }
  // A field key: number and wire type.
  Status key(uint32_t& field, uint32_t& wire) {
    uint64_t k;
    BITNET_RETURN_IF_ERROR(varint(k));
    field = static_cast<uint32_t>(k >> 3);
    wire = static_cast<uint32_t>(k & 7);
    return Status::Ok();
  }
  Status bytes(const uint8_t*& data, size_t& len) {
    uint64_t n;
    BITNET_RETURN_IF_ERROR(varint(n));
    if (n > static_cast<uint64_t>(end_ - p_)) return format_error("length-delimited field runs past its end");
    data = p_;
    len = static_cast<size_t>(n);
    p_ += len;
    return Status::Ok();
  }
  Status fixed32(uint32_t& v) {
    if (end_ - p_ < 4) return format_error("truncated 32-bit field");
    std::memcpy(&v, p_, 4);
    p_ += 4;
    return Status::Ok();
  }
  Status skip(uint32_t wire) {
    uint64_t v;
    const uint8_t* d = nullptr;
    size_t n = 0;
    uint32_t f32;
    switch (wire) {
      case 0:
        return varint(v);
      case 1:
        if (end_ - p_ < 8) return format_error("truncated 64-bit field");
        p_ += 8;
        return Status::Ok();
      case 2:
        return bytes(d, n);
      case 5:
        return fixed32(f32);
      default:
        return format_error("unsupported protobuf wire type " + std::to_string(wire));
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

Status read_piece(const uint8_t* data, size_t len, Vocab& v) {
  Reader r(data, len);
  std::string piece;
  float score = 0.0f;
  int32_t type = 1;
  while (!r.done()) {
    uint32_t field, wire;
    BITNET_RETURN_IF_ERROR(r.key(field, wire));
    if (field == 1 && wire == 2) {
      const uint8_t* d = nullptr;
      size_t n = 0;
      BITNET_RETURN_IF_ERROR(r.bytes(d, n));
      piece.assign(reinterpret_cast<const char*>(d), n);
    } else if (field == 2 && wire == 5) {
      uint32_t bits = 0;
      BITNET_RETURN_IF_ERROR(r.fixed32(bits));
      std::memcpy(&score, &bits, 4);
    } else if (field == 3 && wire == 0) {
      uint64_t t = 0;
      BITNET_RETURN_IF_ERROR(r.varint(t));
      if (t < 1 || t > 6) return format_error("piece '" + piece + "' has unknown type " + std::to_string(t));
      type = static_cast<int32_t>(t);
    } else {
      BITNET_RETURN_IF_ERROR(r.skip(wire));
    }
  }
  v.tokens.push_back(std::move(piece));
  v.scores.push_back(score);
  v.types.push_back(type);
  return Status::Ok();
}

struct TrainerSpec {
  int64_t model_type = 1, unk = 0, bos = 1, eos = 2, pad = -1;
};

Status read_trainer_spec(const uint8_t* data, size_t len, TrainerSpec& t) {
  Reader r(data, len);
  while (!r.done()) {
    uint32_t field, wire;
    BITNET_RETURN_IF_ERROR(r.key(field, wire));
    if (wire == 0 && (field == 3 || (field >= 40 && field <= 43))) {
      uint64_t v;
      BITNET_RETURN_IF_ERROR(r.varint(v));
      const int64_t s = static_cast<int64_t>(static_cast<int32_t>(v));  // int32 fields: -1 is 10 bytes of 0xff
      if (field == 3) t.model_type = s;
      if (field == 40) t.unk = s;
      if (field == 41) t.bos = s;
      if (field == 42) t.eos = s;
      if (field == 43) t.pad = s;
    } else {
      BITNET_RETURN_IF_ERROR(r.skip(wire));
    }
  }
  return Status::Ok();
}

Status read_normalizer_spec(const uint8_t* data, size_t len, bool& add_dummy_prefix) {
  Reader r(data, len);
  while (!r.done()) {
    uint32_t field, wire;
    BITNET_RETURN_IF_ERROR(r.key(field, wire));
    if (field == 3 && wire == 0) {
      uint64_t v;
      BITNET_RETURN_IF_ERROR(r.varint(v));
      add_dummy_prefix = v != 0;
    } else {
      BITNET_RETURN_IF_ERROR(r.skip(wire));
    }
  }
  return Status::Ok();
}

Result<Vocab> parse_model(const uint8_t* data, size_t size) {
  Vocab v;
  v.model = "llama";
  TrainerSpec spec;
  bool add_dummy_prefix = true;
  Reader r(data, size);
  while (!r.done()) {
    uint32_t field, wire;
    BITNET_RETURN_IF_ERROR(r.key(field, wire));
    if (wire == 2 && field >= 1 && field <= 3) {
      const uint8_t* d = nullptr;
      size_t n = 0;
      BITNET_RETURN_IF_ERROR(r.bytes(d, n));
      if (field == 1) {
        BITNET_RETURN_IF_ERROR(read_piece(d, n, v).with_context("piece " + std::to_string(v.tokens.size())));
      } else if (field == 2) {
        BITNET_RETURN_IF_ERROR(read_trainer_spec(d, n, spec).with_context("trainer_spec"));
      } else {
        BITNET_RETURN_IF_ERROR(read_normalizer_spec(d, n, add_dummy_prefix).with_context("normalizer_spec"));
      }
    } else {
      BITNET_RETURN_IF_ERROR(r.skip(wire));
    }
  }
  if (v.tokens.empty()) return format_error("no pieces (not a SentencePiece model?)");
  if (spec.model_type != 2)
    return unsupported("SentencePiece model type " + std::to_string(spec.model_type) +
                       " (only BPE models, type 2, are supported; unigram models need the Viterbi encoder)");
  const int64_t n = static_cast<int64_t>(v.tokens.size());
  auto id = [n](int64_t x) { return static_cast<int32_t>(x >= 0 && x < n ? x : -1); };
  v.unk = id(spec.unk);
  v.bos = id(spec.bos);
  v.eos = id(spec.eos);
  v.pad = id(spec.pad);
  v.add_space_prefix = add_dummy_prefix;
  v.add_bos = v.bos >= 0;
  BITNET_RETURN_IF_ERROR(check_vocab(v));
  return v;
}

}  // namespace

Result<Vocab> vocab_from_sentencepiece_model(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file.ok()) return file.status();
  auto v = parse_model(file.value()->data(), file.value()->size());
  if (!v.ok()) return v.status().with_context(path);
  return v;
}

Result<Vocab> vocab_from_sentencepiece_bytes(const uint8_t* data, size_t size) { return parse_model(data, size); }

}  // namespace bitnet
