// Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session and HF tokenizers' BPE model do it: split the text
// around special tokens, pre-tokenize each raw fragment with the regexes, spell each piece's bytes with
// GPT-2's byte-to-unicode table, then repeatedly apply the merge of lowest rank (leftmost on ties).
#include "tokenizer/bpe.hpp"

#include <algorithm>
#include <climits>

#include "tokenizer/byte_level.hpp"
#include "tokenizer/utf8.hpp"

namespace bitnet {
namespace {

bool has_type(const Vocab& v, int32_t id, TokenType t) { return v.types[id] == static_cast<int32_t>(t); }

// Token text in the byte-level alphabet -> raw bytes. A character outside the table (a vocabulary that
// stores some tokens unescaped) is copied as it is rather than dropped.
std::string decode_byte_level(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8::char_length(text, i);
    uint32_t cp = static_cast<uint8_t>(text[i]);
    if (n == 2) cp = ((cp & 0x1F) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3F);
    if ((n == 1 && cp < 0x80) || n == 2) {
      if (cp < static_cast<uint32_t>(byte_level::kMaxCp) && byte_level::kCpToByte[cp] >= 0) {
        out += static_cast<char>(byte_level::kCpToByte[cp]);
        i += n;
        continue;
      }
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

// One byte, or a run of bytes merged so far; symbols form a linked list in text order.
struct Symbol {
  int32_t id;  // token of the text so far; -1: a byte with no token; -2: merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;  // ids when queued: a mismatch later means one side has changed since
  int32_t right_id;
  int32_t result;
};

// Heap order (std::push_heap keeps the "largest" on top): lowest rank first, then the leftmost pair, as
// llama.cpp's llm_bigram_bpe comparator and HF's merge queue order them.
struct BigramAfter {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

struct BpeTokenizer::Scratch {
  std::vector<Span> spans;
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  std::string word;
};

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::create(Vocab vocab) {
  std::vector<std::string> regexes = vocab.pre_regexes;
  bool ignore_merges = vocab.ignore_merges;
  if (regexes.empty()) {
    BITNET_ASSIGN_OR_RETURN(PreTokenizerPreset preset, pre_tokenizer_preset(vocab.pre));
    regexes = std::move(preset.regexes);
    ignore_merges = ignore_merges || preset.ignore_merges;
  }
  BITNET_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::create(regexes));
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer(std::move(vocab), std::move(pre), ignore_merges));
  BITNET_RETURN_IF_ERROR(tok->build_merges());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

BpeTokenizer::BpeTokenizer(Vocab vocab, PreTokenizer pre, bool ignore_merges)
    : Tokenizer(std::move(vocab)),
      pre_(std::move(pre)),
      ignore_merges_(ignore_merges),
      specials_(vocab_),
      ids_(vocab_.tokens) {
  const Vocab& v = vocab_;
  const int32_t n = v.size();
  size_t bytes = 0;
  for (const std::string& text : v.tokens) bytes += text.size();
  pieces_.reserve(static_cast<size_t>(n), bytes);
  std::string decoded;
  for (int32_t id = 0; id < n; ++id) {
    // llama.cpp's token_to_piece for BPE: normal tokens are decoded from the byte-level alphabet, user-defined
    // ones are verbatim, everything else is empty (control/unknown render as their text on request).
    decoded.clear();
    if (has_type(v, id, TokenType::kNormal)) decoded = decode_byte_level(v.tokens[id]);
    if (has_type(v, id, TokenType::kUserDefined)) decoded = v.tokens[id];
    pieces_.push_back(decoded);
  }
  for (int b = 0; b < 256; ++b) {
    byte_text_[b] = byte_level::byte_to_utf8(static_cast<uint8_t>(b));
    byte_ids_[b] = find_token(byte_text_[b]);
  }
}

Status BpeTokenizer::build_merges() {
  const std::vector<std::string>& list = vocab_.merges;
  if (list.size() > static_cast<size_t>(INT32_MAX)) return format_error("too many BPE merges");
  std::vector<MergeTable::Entry> entries;
  entries.reserve(list.size());
  std::string joined;
  for (size_t rank = 0; rank < list.size(); ++rank) {
    const std::string& m = list[rank];
    // "left right"; the search starts at 1 so that a left part that is itself a space still splits (llama.cpp).
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) {
      return format_error("BPE merge " + std::to_string(rank) + " '" + m + "' is not of the form 'left right'");
    }
    const std::string_view left = std::string_view(m).substr(0, space);
    const std::string_view right = std::string_view(m).substr(space + 1);
    joined.assign(left);
    joined += right;
    const int32_t l = find_token(left), r = find_token(right), result = find_token(joined);
    // HF tokenizers refuses a merge whose parts or result are not tokens; here it is skipped: it could
    // never produce a token.
    if (l < 0 || r < 0 || result < 0) continue;
    entries.push_back({l, r, static_cast<int32_t>(rank), result});  // a repeated pair keeps its first rank
  }
  merges_ = MergeTable(std::move(entries), vocab_.size());
  std::vector<std::string>().swap(vocab_.merges);  // 280k strings for Llama 3, no longer needed
  return Status::Ok();
}

std::string BpeTokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return {};
  if (has_type(vocab_, id, TokenType::kControl) || has_type(vocab_, id, TokenType::kUnknown)) {
    return render_special ? vocab_.tokens[id] : std::string();
  }
  return std::string(pieces_[id]);
}

Status BpeTokenizer::encode_word(std::string_view raw, Scratch& s, std::vector<int32_t>& out) const {
  if (ignore_merges_ && raw.size() > 1) {
    s.word.clear();
    for (const char c : raw) s.word += byte_text_[static_cast<uint8_t>(c)];
    const int32_t id = find_token(s.word);
    if (id >= 0) {
      out.push_back(id);
      return Status::Ok();
    }
  }

  std::vector<Symbol>& sym = s.symbols;
  std::vector<Bigram>& heap = s.heap;
  sym.clear();
  heap.clear();
  const int32_t n = static_cast<int32_t>(raw.size());
  for (int32_t i = 0; i < n; ++i) sym.push_back({byte_ids_[static_cast<uint8_t>(raw[i])], i - 1, i + 1 < n ? i + 1 : -1});

  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t a = sym[left].id, b = sym[right].id;
    if (a < 0 || b < 0) return;
    const MergeTable::Merge* m = merges_.find(a, b);
    if (m == nullptr) return;
    heap.push_back({m->rank, left, right, a, b, m->result});
    std::push_heap(heap.begin(), heap.end(), BigramAfter{});
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramAfter{});
    const Bigram bg = heap.back();
    heap.pop_back();
    Symbol& left = sym[bg.left];
    Symbol& right = sym[bg.right];
    // Stale entry: one side was merged away or has grown since this pair was queued.
    if (left.id != bg.left_id || right.id != bg.right_id || left.next != bg.right) continue;
    left.id = bg.result;
    right.id = -2;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = bg.left;
    try_add(left.prev, bg.left);
    try_add(bg.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = sym[i].next) {
    if (sym[i].id >= 0) {
      out.push_back(sym[i].id);
    } else if (vocab_.unk >= 0) {  // only an unmerged byte whose spelling is not a token gets here
      out.push_back(vocab_.unk);
    } else {
      return invalid_argument("cannot encode byte " + std::to_string(static_cast<uint8_t>(raw[i])) +
                              ": the vocabulary has no token for it and no unknown token");
    }
  }
  return Status::Ok();
}

Result<std::vector<int32_t>> BpeTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos) {
    if (vocab_.bos < 0) return invalid_argument("BOS requested but the vocabulary has no BOS token");
    out.push_back(vocab_.bos);
  }
  if (text.empty()) return out;
  // Symbols are linked by int32 indexes; a larger text could not be indexed.
  if (text.size() > static_cast<size_t>(INT32_MAX) / 4) return invalid_argument("text too long to tokenize");
  out.reserve(out.size() + text.size() / 3);

  Scratch s;
  for (const Fragment& f : specials_.split(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      continue;
    }
    const std::string_view frag = text.substr(f.start, f.len);
    s.spans.clear();
    BITNET_RETURN_IF_ERROR(pre_.split(frag, s.spans));
    for (const Span& span : s.spans) BITNET_RETURN_IF_ERROR(encode_word(frag.substr(span.start, span.len), s, out));
  }
  return out;
}

}  // namespace bitnet
