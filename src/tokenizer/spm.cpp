// SentencePiece BPE encoding as llama.cpp's llm_tokenizer_spm does it (src/llama-vocab.cpp), so ids match
// llama.cpp's published test vectors: split into UTF-8 characters, then repeatedly merge the adjacent pair
// whose concatenation is a token with the highest score (leftmost first on ties), then byte fallback.
#include "tokenizer/spm.hpp"

#include <algorithm>
#include <climits>
#include <queue>

#include "tokenizer/utf8.hpp"

namespace bitnet {
namespace {

constexpr std::string_view kSpaceMeta = "\xE2\x96\x81";  // "▁" (U+2581): SentencePiece's visible space

bool has_type(const Vocab& v, int32_t id, TokenType t) { return v.types[id] == static_cast<int32_t>(t); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xNN>" -> NN, or -1 when the text has another shape.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  const int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

std::string meta_to_space(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kSpaceMeta.size()) == kSpaceMeta) {
      out += ' ';
      i += kSpaceMeta.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// One character, or a run of characters merged so far; symbols form a linked list in text order.
struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t n;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t size;  // byte length when queued: a mismatch later means one side has changed since
};

// Max-heap order: highest score first, then the leftmost pair (llama.cpp's llm_bigram_spm comparator).
struct BigramLess {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)), ids_(vocab_.tokens), splitter_(vocab_) {
  const Vocab& v = vocab_;
  const int32_t n = v.size();
  size_t bytes = 0;
  for (const std::string& text : v.tokens) bytes += text.size();
  pieces_.reserve(static_cast<size_t>(n), bytes);
  std::string piece;
  for (int32_t id = 0; id < n; ++id) {
    const std::string& text = v.tokens[id];
    piece.clear();
    switch (static_cast<TokenType>(v.types[id])) {
      case TokenType::kNormal: piece = meta_to_space(text); break;
      case TokenType::kUserDefined:
        piece = text;  // user-defined tokens render verbatim
        break;
      case TokenType::kByte: {
        const int b = parse_byte_token(text);
        if (b >= 0) piece.assign(1, static_cast<char>(b));
        break;
      }
      default:  // control, unknown, unused, undefined: nothing unless rendered as special
        break;
    }
    pieces_.push_back(piece);
  }

  constexpr const char* kHex = "0123456789ABCDEF";  // llama.cpp writes byte tokens in upper case
  for (int b = 0; b < 256; ++b) {
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    int32_t id = find_token(std::string_view(name, sizeof name));
    if (id < 0) id = find_token(std::string(1, static_cast<char>(b)));  // llama.cpp's second choice
    byte_ids_[b] = id >= 0 ? id : v.unk;
  }
}

std::string SpmTokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return {};
  if (has_type(vocab_, id, TokenType::kControl) || has_type(vocab_, id, TokenType::kUnknown)) {
    return render_special ? vocab_.tokens[id] : std::string();
  }
  return std::string(pieces_[id]);
}

Status SpmTokenizer::encode_escaped(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offs = 0; offs < text.size();) {
    const size_t len = utf8::char_length(text, offs);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offs + len == text.size() ? -1 : index + 1, offs, len});
    offs += len;
  }
  if (symbols.empty()) return Status::Ok();

  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view pair = text.substr(symbols[left].start, symbols[left].n + symbols[right].n);
    const int32_t id = find_token(pair);
    if (id < 0) return;
    queue.push({left, right, vocab_.scores[id], pair.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Stale entry: one side was merged away or has grown since this pair was queued.
    if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  // Every merged symbol is a token by construction; single characters that are not fall back to bytes.
  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].start, symbols[i].n);
    const int32_t id = find_token(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (const char c : piece) {
      const int32_t byte_id = byte_ids_[static_cast<uint8_t>(c)];
      if (byte_id < 0) {
        return invalid_argument("cannot encode byte " + std::to_string(static_cast<uint8_t>(c)) +
                                ": the vocabulary has no byte token and no unknown token");
      }
      out.push_back(byte_id);
    }
  }
  return Status::Ok();
}

Result<std::vector<int32_t>> SpmTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos) {
    if (vocab_.bos < 0) return invalid_argument("BOS requested but the vocabulary has no BOS token");
    out.push_back(vocab_.bos);
  }
  if (text.empty()) return out;  // SentencePiece: "" encodes to nothing, not to a lone space
  // Symbols are linked by int indexes; a larger text could not be indexed.
  if (text.size() > static_cast<size_t>(INT32_MAX) / 4) return invalid_argument("text too long to tokenize");

  // llama.cpp puts the space prefix before the first fragment and before every fragment that follows a
  // special token, so "<s>Hello" encodes "Hello" as " Hello".
  bool prev_special = true;
  std::string escaped;
  for (const Fragment& f : splitter_.split(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    escaped.clear();
    if (vocab_.add_space_prefix && prev_special) escaped += kSpaceMeta;
    for (const char c : text.substr(f.start, f.len)) {
      if (c == ' ') {
        escaped += kSpaceMeta;
      } else {
        escaped += c;
      }
    }
    BITNET_RETURN_IF_ERROR(encode_escaped(escaped, out));
    prev_special = false;
  }
  return out;
}

}  // namespace bitnet
