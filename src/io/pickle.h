#pragma once
// A restricted unpickler: the opcode subset that torch.save (protocol 2+) writes for a state dict, and nothing
// that could run code. A GLOBAL becomes an inert reference only when the resolver allows it; REDUCE of such a
// reference and persistent ids are handed to the resolver, which builds plain values from them. Nothing is ever
// imported or called. Values live in the unpickler's arena (so cyclic or shared structures cannot leak) and are
// valid as long as the Unpickler is.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/byte_reader.h"

namespace agf::io::pickle {

enum class Kind : uint8_t { none, boolean, integer, floating, string, bytes, tuple, list, dict, global, object };

struct Value {
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
  std::string text;                                  // string, bytes; a global's module; an object's type label
  std::string name;                                  // a global's name
  std::vector<Value*> items;                         // tuple, list
  std::vector<std::pair<Value*, Value*>> entries;    // dict, in insertion order (duplicates are kept)
  int64_t object_id = -1;                            // object: an index into the resolver's own table

  bool is(Kind k) const { return kind == k; }
  bool is_global(std::string_view module, std::string_view global_name) const {
    return kind == Kind::global && text == module && name == global_name;
  }
};

// A short description for messages: "int 3", "str 'cuda:0'", "tuple of 5", "global torch.FloatStorage".
std::string describe(const Value& v);

class Unpickler;

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Whether module.name may appear in the pickle (as an inert reference).
  virtual bool allow_global(std::string_view module, std::string_view name) const = 0;
  // REDUCE: `callable` is an allowed global, `args` a tuple. Returns a value made with u.make().
  virtual Value* reduce(Unpickler& u, const Value& callable, const Value& args) = 0;
  // BINPERSID with the popped persistent id.
  virtual Value* persistent_load(Unpickler& u, const Value& pid) = 0;
};

struct Limits {
  size_t max_stack = 1 << 17;    // values on the stack (a SETITEMS batch of a state dict holds ~2000)
  size_t max_marks = 256;        // nesting of MARKs
  size_t max_memo = 1 << 20;     // memo entries
  size_t max_values = 1 << 20;   // values made (~150 bytes each) and copied by the resolver (16), in all
};

class Unpickler {
 public:
  // `what` names the source in messages, e.g. "model.pt: entry 'archive/data.pkl'".
  Unpickler(Bytes data, std::string what, Resolver& resolver, Limits limits = {});

  // Runs the pickle to its STOP and returns the result.
  const Value& load();

  Value* make(Kind k);
  // Counts n values a resolver copied (OrderedDict(pairs) copies its pairs) against max_values: one memoized list
  // of pairs could otherwise be copied into dicts without end, a few bytes of pickle for each copy.
  void count_copies(size_t n);
  [[noreturn]] void fail(const std::string& msg) const;  // the message, prefixed with the source and offset
  const std::string& what() const { return in_.what(); }

 private:
  void push(Value* v);
  Value* pop(const char* op);
  Value* top(const char* op);
  std::vector<Value*> pop_mark(const char* op);
  void memo_put(uint64_t index, const char* op);
  Value* memo_get(uint64_t index, const char* op);
  std::string read_line(const char* op);
  Value* make_string(Kind k, uint64_t n, const char* op);
  bool step();  // one opcode; false at STOP

  ByteReader in_;
  Resolver& resolver_;
  Limits limits_;
  size_t op_pos_ = 0;  // offset of the opcode being run
  std::deque<Value> arena_;
  size_t copies_ = 0;  // see count_copies
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;  // stack heights at each MARK
  std::unordered_map<uint64_t, Value*> memo_;
  Value* result_ = nullptr;
};

}  // namespace agf::io::pickle
