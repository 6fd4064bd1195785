#include "io/pickle.h"

#include <bit>
#include <cstring>

namespace agf::io::pickle {

namespace {

// Opcodes of the supported subset (pickle protocol 2..5, as torch.save writes a state dict).
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BINFLOAT = 'G', BININT = 'J', BININT1 = 'K',
  BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINUNICODE = 'X', EMPTY_LIST = ']', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', BINPUT = 'q',
  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', SETITEMS = 'u', EMPTY_DICT = '}', EMPTY_TUPLE = ')',
  BINBYTES = 'B', SHORT_BINBYTES = 'C', PROTO = 0x80, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87,
  NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};

// Opcodes of the pickle language that a state dict never needs; named in the refusal so that it is clear the
// file uses a feature on purpose left out, not that it is garbage.
const char* unsupported_opcode_name(uint8_t op) {
  switch (op) {
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'P': return "PERSID";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'g': return "GET";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x8b: return "LONG4";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

}  // namespace

std::string describe(const Value& v) {
  switch (v.kind) {
    case Kind::none: return "None";
    case Kind::boolean: return v.boolean ? "True" : "False";
    case Kind::integer: return fmt::format("int {}", v.integer);
    case Kind::floating: return fmt::format("float {}", v.floating);
    case Kind::string: {
      const bool long_text = v.text.size() > 60;
      return fmt::format("str '{}{}'", std::string_view(v.text).substr(0, 60), long_text ? "..." : "");
    }
    case Kind::bytes: return fmt::format("bytes of length {}", v.text.size());
    case Kind::tuple: return fmt::format("tuple of {}", v.items.size());
    case Kind::list: return fmt::format("list of {}", v.items.size());
    case Kind::dict: return fmt::format("dict of {}", v.entries.size());
    case Kind::global: return fmt::format("global {}.{}", v.text, v.name);
    case Kind::object: return v.text;
  }
  return "?";
}

Unpickler::Unpickler(Bytes data, std::string what, Resolver& resolver, Limits limits)
    : in_(data, std::move(what)), resolver_(resolver), limits_(limits) {}

void Unpickler::fail(const std::string& msg) const {
  AGF_FAIL("{}: pickle offset {}: {}", in_.what(), op_pos_, msg);
}

Value* Unpickler::make(Kind k) {
  if (arena_.size() + copies_ >= limits_.max_values) fail(fmt::format("more than {} values", limits_.max_values));
  arena_.emplace_back();
  arena_.back().kind = k;
  return &arena_.back();
}

void Unpickler::count_copies(size_t n) {
  copies_ += n;
  if (arena_.size() + copies_ > limits_.max_values)
    fail(fmt::format("more than {} values, counting the {} items that OrderedDict calls copied", limits_.max_values,
                     copies_));
}

void Unpickler::push(Value* v) {
  if (stack_.size() >= limits_.max_stack)
    fail(fmt::format("stack deeper than {} values (a hostile or corrupt pickle)", limits_.max_stack));
  stack_.push_back(v);
}

Value* Unpickler::pop(const char* op) {
  const size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail(fmt::format("{} on an empty stack", op));
  Value* v = stack_.back();
  stack_.pop_back();
  return v;
}

Value* Unpickler::top(const char* op) {
  const size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail(fmt::format("{} on an empty stack", op));
  return stack_.back();
}

std::vector<Value*> Unpickler::pop_mark(const char* op) {
  if (marks_.empty()) fail(fmt::format("{} without a MARK", op));
  const size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
  stack_.resize(mark);
  return items;
}

void Unpickler::memo_put(uint64_t index, const char* op) {
  Value* v = top(op);
  if (memo_.size() >= limits_.max_memo && !memo_.count(index))
    fail(fmt::format("more than {} memo entries", limits_.max_memo));
  memo_[index] = v;
}

Value* Unpickler::memo_get(uint64_t index, const char* op) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail(fmt::format("{} of memo entry {}, which was never put", op, index));
  return it->second;
}

std::string Unpickler::read_line(const char* op) {
  const size_t start = in_.pos();
  std::string_view rest = in_.chars(in_.remaining(), op);
  const size_t len = rest.find('\n');
  if (len == std::string_view::npos) fail(fmt::format("{}: unterminated line", op));
  in_.seek(start + len + 1);
  return std::string(rest.substr(0, len));
}

Value* Unpickler::make_string(Kind k, uint64_t n, const char* op) {
  std::string_view s = in_.chars(n, op);
  Value* v = make(k);
  v->text.assign(s);
  return v;
}

bool Unpickler::step() {
  op_pos_ = in_.pos();
  const uint8_t op = in_.u8("opcode");
  switch (op) {
    case PROTO: {
      const uint8_t proto = in_.u8("PROTO");
      if (proto > 5) fail(fmt::format("pickle protocol {} is newer than 5", proto));
      return true;
    }
    case FRAME: in_.u64("FRAME"); return true;  // framing is only a read-ahead hint
    case STOP: result_ = pop("STOP"); return false;
    case MARK:
      if (marks_.size() >= limits_.max_marks)
        fail(fmt::format("MARKs nested deeper than {} (a hostile or corrupt pickle)", limits_.max_marks));
      marks_.push_back(stack_.size());
      return true;
    case POP:
      if (!marks_.empty() && stack_.size() == marks_.back()) marks_.pop_back();
      else pop("POP");
      return true;
    case POP_MARK: pop_mark("POP_MARK"); return true;
    case DUP: push(top("DUP")); return true;
    case NONE: push(make(Kind::none)); return true;
    case NEWTRUE:
    case NEWFALSE: {
      Value* v = make(Kind::boolean);
      v->boolean = op == NEWTRUE;
      push(v);
      return true;
    }
    case BININT:
    case BININT1:
    case BININT2: {
      Value* v = make(Kind::integer);
      v->integer = op == BININT    ? static_cast<int32_t>(in_.u32("BININT"))
                   : op == BININT1 ? in_.u8("BININT1")
                                   : in_.u16("BININT2");
      push(v);
      return true;
    }
    case LONG1: {
      const uint8_t n = in_.u8("LONG1");
      if (n > 8) fail(fmt::format("LONG1 integer of {} bytes does not fit 64 bits", n));
      Bytes b = in_.bytes(n, "LONG1");
      uint64_t u = 0;
      for (size_t i = 0; i < n; ++i) u |= static_cast<uint64_t>(b[i]) << (8 * i);
      if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);  // sign-extend two's complement
      Value* v = make(Kind::integer);
      v->integer = static_cast<int64_t>(u);
      push(v);
      return true;
    }
    case BINFLOAT: {
      Value* v = make(Kind::floating);
      v->floating = std::bit_cast<double>(__builtin_bswap64(in_.u64("BINFLOAT")));  // big-endian on the wire
      push(v);
      return true;
    }
    case SHORT_BINUNICODE: push(make_string(Kind::string, in_.u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE")); return true;
    case BINUNICODE: push(make_string(Kind::string, in_.u32("BINUNICODE"), "BINUNICODE")); return true;
    case BINUNICODE8: push(make_string(Kind::string, in_.u64("BINUNICODE8"), "BINUNICODE8")); return true;
    case SHORT_BINBYTES: push(make_string(Kind::bytes, in_.u8("SHORT_BINBYTES"), "SHORT_BINBYTES")); return true;
    case BINBYTES: push(make_string(Kind::bytes, in_.u32("BINBYTES"), "BINBYTES")); return true;
    case BINBYTES8: push(make_string(Kind::bytes, in_.u64("BINBYTES8"), "BINBYTES8")); return true;
    case EMPTY_TUPLE: push(make(Kind::tuple)); return true;
    case EMPTY_LIST: push(make(Kind::list)); return true;
    case EMPTY_DICT: push(make(Kind::dict)); return true;
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      const size_t n = op - TUPLE1 + 1;
      Value* v = make(Kind::tuple);
      v->items.resize(n);
      for (size_t i = n; i-- > 0;) v->items[i] = pop("TUPLEn");
      push(v);
      return true;
    }
    case TUPLE:
    case LIST: {
      Value* v = make(op == TUPLE ? Kind::tuple : Kind::list);
      v->items = pop_mark(op == TUPLE ? "TUPLE" : "LIST");
      push(v);
      return true;
    }
    case DICT:
    case SETITEMS: {
      std::vector<Value*> kv = pop_mark(op == DICT ? "DICT" : "SETITEMS");
      if (kv.size() % 2 != 0) fail(fmt::format("{} with an odd number ({}) of keys and values",
                                               op == DICT ? "DICT" : "SETITEMS", kv.size()));
      Value* d = op == DICT ? make(Kind::dict) : top("SETITEMS");
      if (!d->is(Kind::dict)) fail(fmt::format("SETITEMS on a {}, not a dict", describe(*d)));
      for (size_t i = 0; i < kv.size(); i += 2) d->entries.emplace_back(kv[i], kv[i + 1]);
      if (op == DICT) push(d);
      return true;
    }
    case SETITEM: {
      Value* v = pop("SETITEM");
      Value* k = pop("SETITEM");
      Value* d = top("SETITEM");
      if (!d->is(Kind::dict)) fail(fmt::format("SETITEM on a {}, not a dict", describe(*d)));
      d->entries.emplace_back(k, v);
      return true;
    }
    case APPEND: {
      Value* v = pop("APPEND");
      Value* l = top("APPEND");
      if (!l->is(Kind::list)) fail(fmt::format("APPEND to a {}, not a list", describe(*l)));
      l->items.push_back(v);
      return true;
    }
    case APPENDS: {
      std::vector<Value*> vs = pop_mark("APPENDS");
      Value* l = top("APPENDS");
      if (!l->is(Kind::list)) fail(fmt::format("APPENDS to a {}, not a list", describe(*l)));
      l->items.insert(l->items.end(), vs.begin(), vs.end());
      return true;
    }
    case BINPUT: memo_put(in_.u8("BINPUT"), "BINPUT"); return true;
    case LONG_BINPUT: memo_put(in_.u32("LONG_BINPUT"), "LONG_BINPUT"); return true;
    case MEMOIZE: memo_put(memo_.size(), "MEMOIZE"); return true;
    case BINGET: push(memo_get(in_.u8("BINGET"), "BINGET")); return true;
    case LONG_BINGET: push(memo_get(in_.u32("LONG_BINGET"), "LONG_BINGET")); return true;
    case GLOBAL:
    case STACK_GLOBAL: {
      std::string module, name;
      if (op == GLOBAL) {
        module = read_line("GLOBAL");
        name = read_line("GLOBAL");
      } else {
        Value* n = pop("STACK_GLOBAL");
        Value* m = pop("STACK_GLOBAL");
        if (!n->is(Kind::string) || !m->is(Kind::string))
          fail(fmt::format("STACK_GLOBAL of {} and {}, not two strings", describe(*m), describe(*n)));
        module = m->text;
        name = n->text;
      }
      if (!resolver_.allow_global(module, name))
        fail(fmt::format("refusing global '{}.{}': not on the allowlist of a PyTorch state dict "
                         "(a checkpoint is never allowed to run code)", module, name));
      Value* g = make(Kind::global);
      g->text = std::move(module);
      g->name = std::move(name);
      push(g);
      return true;
    }
    case REDUCE: {
      Value* args = pop("REDUCE");
      Value* callable = pop("REDUCE");
      if (!callable->is(Kind::global)) fail(fmt::format("REDUCE of a {}, not a global", describe(*callable)));
      if (!args->is(Kind::tuple))
        fail(fmt::format("REDUCE of {}.{} with {} as arguments, not a tuple", callable->text, callable->name,
                         describe(*args)));
      push(resolver_.reduce(*this, *callable, *args));
      return true;
    }
    case BUILD: {
      // BUILD sets an object's attributes from a state; the only one a state dict carries is OrderedDict's
      // `_metadata` (module versions), which loading never needs. Dropping it never runs anything.
      pop("BUILD");
      top("BUILD");
      return true;
    }
    case BINPERSID: {
      Value* pid = pop("BINPERSID");
      push(resolver_.persistent_load(*this, *pid));
      return true;
    }
    default: {
      if (const char* name = unsupported_opcode_name(op))
        fail(fmt::format("unsupported opcode {} (0x{:02x}): not used by a PyTorch state dict", name, op));
      fail(fmt::format("unknown opcode 0x{:02x}", op));
    }
  }
}

const Value& Unpickler::load() {
  while (step()) {
  }
  // A well-formed pickle leaves nothing behind its result; leftovers mean a corrupt or crafted stream.
  if (!stack_.empty() || !marks_.empty())
    fail(fmt::format("STOP with {} values and {} MARKs left on the stack", stack_.size(), marks_.size()));
  return *result_;
}

}  // namespace agf::io::pickle
