// The restricted unpickler on pickles Python wrote (protocols 2 and 4), and its limits, on hand-made streams.
#include <cmath>

#include "io/file_util.h"
#include "io/pickle.h"
#include "io_test_util.h"

namespace {

using agf::test::check_error;
namespace io = agf::io;
namespace pk = agf::io::pickle;

// Allows what Python's own pickles of plain values use: OrderedDict, and _codecs.encode (bytes at protocol 2).
class PlainResolver final : public pk::Resolver {
 public:
  bool allow_global(std::string_view m, std::string_view n) const override {
    return (m == "collections" && n == "OrderedDict") || (m == "_codecs" && n == "encode");
  }
  pk::Value* reduce(pk::Unpickler& u, const pk::Value& f, const pk::Value& args) override {
    if (f.name == "encode") {  // _codecs.encode(str, 'latin1'): the str's code points are the bytes
      pk::Value* b = u.make(pk::Kind::bytes);
      b->text = args.items.at(0)->text;
      return b;
    }
    return u.make(pk::Kind::dict);
  }
  pk::Value* persistent_load(pk::Unpickler& u, const pk::Value&) override { u.fail("no persistent ids here"); }
};

void check_values(const pk::Value& root) {
  REQUIRE(root.is(pk::Kind::list));
  const auto& v = root.items;
  REQUIRE(v.size() == 29);
  const std::vector<int64_t> ints{0,       1,           255,           256,
                                  65535,   65536,       -1,            -(int64_t{1} << 31),
                                  int64_t{1} << 31, int64_t{1} << 40, -(int64_t{1} << 40), INT64_MAX,
                                  INT64_MIN};
  for (size_t i = 0; i < ints.size(); ++i) {
    CAPTURE(i);
    REQUIRE(v[i]->is(pk::Kind::integer));
    CHECK(v[i]->integer == ints[i]);
  }
  CHECK(v[13]->floating == 3.5);
  CHECK((v[14]->floating == 0.0 && std::signbit(v[14]->floating)));
  CHECK(v[15]->floating == 1e300);
  CHECK(v[16]->text == "\xc3\xa9" "cg");  // UTF-8 as written
  CHECK((v[17]->is(pk::Kind::string) && v[17]->text.empty()));
  CHECK((v[18]->is(pk::Kind::bytes) && v[18]->text == "xy"));
  for (size_t n = 0; n <= 4; ++n) {
    REQUIRE(v[19 + n]->is(pk::Kind::tuple));
    CHECK(v[19 + n]->items.size() == n);
  }
  CHECK(v[23]->items[3]->integer == 4);
  CHECK((v[24]->is(pk::Kind::list) && v[24]->items.empty()));
  const pk::Value& d = *v[25];
  REQUIRE(d.entries.size() == 3);
  CHECK(d.entries[0].first->text == "a");
  CHECK(d.entries[0].second->is(pk::Kind::none));
  CHECK(d.entries[1].second->boolean);
  CHECK(!d.entries[2].second->boolean);
  const pk::Value& od = *v[26];
  REQUIRE(od.entries.size() == 2);
  CHECK(od.entries[1].first->text == "j");
  CHECK(od.entries[1].second->integer == 2);
  CHECK(v[27] == v[28]);  // a shared object stays one object (memo)
  CHECK(v[27]->items.at(0)->integer == 7);
}

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }
using namespace std::string_literals;
using namespace std::string_view_literals;

const pk::Value& run(pk::Unpickler& u) { return u.load(); }

}  // namespace

TEST_CASE("pickle: values written by Python at protocols 2 and 4") {
  for (const char* f : {"values_p2.pkl", "values_p4.pkl"}) {
    CAPTURE(f);
    const auto data = io::read_file_bytes(agf::test::io_golden(f));
    PlainResolver r;
    pk::Unpickler u(data, f, r);
    check_values(u.load());
  }
}

TEST_CASE("pickle: malformed streams fail naming the opcode and offset") {
  PlainResolver r;
  struct Case {
    std::string bytes;
    std::initializer_list<std::string> parts;
  };
  const Case cases[] = {
      {"\x80\x02"s, {"truncated opcode", "offset 2"}},
      {"\x80\x02N"s, {"truncated opcode"}},
      {"\x80\x06N."s, {"protocol 6"}},
      {"\x80\x02."s, {"STOP on an empty stack", "pickle offset 2"}},
      {"\x80\x02(N."s, {"1 MARKs left"}},
      {"\x80\x02N(."s, {"STOP on an empty stack"}},  // a MARK fences off what is below it
      {"\x80\x02NN."s, {"STOP with 1 values"}},
      {"\x80\x02h\x05."s, {"BINGET of memo entry 5, which was never put"}},
      {"\x80\x02Na."s, {"APPEND on an empty stack"}},
      {"\x80\x02NNa."s, {"APPEND to a None, not a list"}},
      {"\x80\x02}(Nu."s, {"odd number (1)"}},
      {"\x80\x02t."s, {"TUPLE without a MARK"}},
      {"\x80\x02X\xff\xff\xff" "\x00" "abc"s, {"truncated BINUNICODE", "16777215 bytes"}},
      {"\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."s, {"LONG1 integer of 9 bytes"}},
      {"\x80\x02\x63os\nsystem"s, {"unterminated line"}},
      {"\x80\x02\x63os\nsystem\n)R."s, {"refusing global 'os.system'"}},
      {"\x80\x02N)R."s, {"REDUCE of a None, not a global"}},
      {"\x80\x02\x63\x63ollections\nOrderedDict\nNR."s, {"REDUCE of collections.OrderedDict with None"}},
      {"\x80\x02NNN\x93."s, {"STACK_GLOBAL of None and None"}},
      {"\x80\x02NQ."s, {"no persistent ids here"}},
      {"\x80\x02I1\n."s, {"unsupported opcode INT (0x49)"}},
      {"\x80\x02\xff"s, {"unknown opcode 0xff", "pickle offset 2"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.bytes);
    const auto data = bytes_of(c.bytes);
    check_error([&] {
      pk::Unpickler u(data, "t.pkl", r);
      run(u);
    }, c.parts);
  }
}

TEST_CASE("pickle: limits on stack, marks and values") {
  PlainResolver r;
  pk::Limits small;
  small.max_stack = 8;
  small.max_marks = 2;
  small.max_values = 5;
  const auto stack = bytes_of(std::string("\x80\x02") + std::string(9, ']'));
  check_error([&] {
    pk::Limits l = small;
    l.max_values = 100;
    pk::Unpickler u(stack, "s.pkl", r, l);
    run(u);
  }, {"stack deeper than 8"});
  const auto marks = bytes_of("\x80\x02(((");
  check_error([&] {
    pk::Unpickler u(marks, "m.pkl", r, small);
    run(u);
  }, {"MARKs nested deeper than 2"});
  const auto values = bytes_of("\x80\x02]]]]]]");
  check_error([&] {
    pk::Unpickler u(values, "v.pkl", r, small);
    run(u);
  }, {"more than 5 values"});
  // A list that contains itself is a value like any other (no recursion, no leak).
  const auto cyclic = bytes_of("\x80\x02]q\x00h\x00\x61."sv);
  pk::Unpickler u(cyclic, "c.pkl", r);
  const pk::Value& l = u.load();
  CHECK(l.items.at(0) == &l);
}
