// The pickle half of the PyTorch checkpoint reader: which globals a state dict may name, how persistent ids and
// _rebuild_tensor_v2 calls become storage and tensor descriptions, and how those become checked, contiguous
// tensors. The zip half is torch_checkpoint.cpp.
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "io/pickle.h"
#include "io/torch_checkpoint.h"

namespace agf::io {

namespace {

using pickle::Kind;
using pickle::Value;

struct StorageType {
  std::string_view name;
  DType dtype;
  bool supported;
};

// torch.<Name>Storage classes: only named in persistent ids, never instantiated.
constexpr std::array<StorageType, 10> kStorageTypes{{
    {"FloatStorage", DType::f32, true},
    {"DoubleStorage", DType::f64, true},
    {"HalfStorage", DType::f16, true},
    {"BFloat16Storage", DType::bf16, true},
    {"LongStorage", DType::i64, true},
    {"IntStorage", DType::i32, true},
    {"BoolStorage", DType::boolean, true},
    {"ByteStorage", DType::u8, true},
    // Real torch types with no engine dtype: allowed as names so the refusal says what is missing.
    {"ShortStorage", DType::u8, false},
    {"CharStorage", DType::u8, false},
}};

const StorageType* find_storage_type(std::string_view module, std::string_view name) {
  if (module != "torch") return nullptr;
  for (const auto& t : kStorageTypes)
    if (t.name == name) return &t;
  return nullptr;
}

// Everything a plain state dict (and the usual {"state_dict": ...} wrappers) needs, and nothing more.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kAllowedCallables{{
    {"collections", "OrderedDict"},
    {"torch._utils", "_rebuild_tensor_v2"},
    {"torch._utils", "_rebuild_tensor"},
    {"torch._utils", "_rebuild_parameter"},
    {"torch._utils", "_rebuild_parameter_with_state"},
    {"torch", "Size"},
}};

struct StorageRef {
  std::string key;
  DType dtype;
  int64_t numel;
  Bytes bytes;
};

struct TensorSpec {
  size_t storage;  // index into storages
  int64_t offset;
  Shape sizes, strides;
};

class StateDictResolver final : public pickle::Resolver {
 public:
  StateDictResolver(const StorageLookup& lookup, TorchCheckpoint& out) : lookup_(lookup), out_(out) {}

  bool allow_global(std::string_view module, std::string_view name) const override {
    if (find_storage_type(module, name)) return true;
    return std::find(kAllowedCallables.begin(), kAllowedCallables.end(), std::pair{module, name}) !=
           kAllowedCallables.end();
  }

  Value* reduce(pickle::Unpickler& u, const Value& f, const Value& args) override {
    const auto& a = args.items;
    if (f.is_global("collections", "OrderedDict")) {
      Value* d = u.make(Kind::dict);
      if (a.empty()) return d;
      if (a.size() != 1 || !(a[0]->is(Kind::list) || a[0]->is(Kind::tuple)))
        u.fail(fmt::format("OrderedDict called with {}: expected no argument or a list of pairs", describe(args)));
      u.count_copies(a[0]->items.size());
      for (const Value* pair : a[0]->items) {
        if (!(pair->is(Kind::tuple) || pair->is(Kind::list)) || pair->items.size() != 2)
          u.fail(fmt::format("OrderedDict item {} is not a (key, value) pair", describe(*pair)));
        d->entries.emplace_back(pair->items[0], pair->items[1]);
      }
      return d;
    }
    if (f.is_global("torch", "Size")) {
      if (a.size() != 1 || !a[0]->is(Kind::tuple)) u.fail(fmt::format("torch.Size of {}", describe(args)));
      return a[0];
    }
    if (f.is_global("torch._utils", "_rebuild_tensor_v2") || f.is_global("torch._utils", "_rebuild_tensor"))
      return rebuild_tensor(u, f, a);
    if (f.is_global("torch._utils", "_rebuild_parameter") ||
        f.is_global("torch._utils", "_rebuild_parameter_with_state")) {
      if (a.empty() || !is_tensor(*a[0]))
        u.fail(fmt::format("{} of {}: its first argument must be a tensor", f.name, describe(args)));
      return a[0];  // a Parameter is its data here; requires_grad is the model's business
    }
    u.fail(fmt::format("{}.{} cannot be called", f.text, f.name));
  }

  Value* persistent_load(pickle::Unpickler& u, const Value& pid) override {
    // ('storage', torch.<Type>Storage, key, location, numel)
    const auto& p = pid.items;
    if (!pid.is(Kind::tuple) || p.size() != 5 || !p[0]->is(Kind::string) || p[0]->text != "storage")
      u.fail(fmt::format("persistent id {} is not ('storage', type, key, location, numel)", describe(pid)));
    if (!p[1]->is(Kind::global)) u.fail(fmt::format("storage type {} is not a class", describe(*p[1])));
    const StorageType* type = find_storage_type(p[1]->text, p[1]->name);
    if (!type) u.fail(fmt::format("{}.{} is not a storage type", p[1]->text, p[1]->name));
    if (!type->supported)
      u.fail(fmt::format("storage type torch.{} is not supported (no such dtype here)", type->name));
    if (!p[2]->is(Kind::string)) u.fail(fmt::format("storage key {} is not a string", describe(*p[2])));
    if (!p[3]->is(Kind::string)) u.fail(fmt::format("storage location {} is not a string", describe(*p[3])));
    if (!p[4]->is(Kind::integer) || p[4]->integer < 0)
      u.fail(fmt::format("storage '{}' has element count {}", p[2]->text, describe(*p[4])));
    StorageRef s{p[2]->text, type->dtype, p[4]->integer, {}};
    auto cached = bytes_by_key_.find(s.key);
    s.bytes = cached != bytes_by_key_.end() ? cached->second : (bytes_by_key_[s.key] = lookup_(s.key));
    uint64_t nbytes = 0;
    if (mul_overflows(static_cast<uint64_t>(s.numel), dtype_size(s.dtype), &nbytes) || nbytes != s.bytes.size())
      u.fail(fmt::format("storage '{}' ({} x {}) should hold {} x {} bytes but its data file has {} bytes", s.key,
                         s.numel, type->name, s.numel, dtype_size(s.dtype), s.bytes.size()));
    if (locations_seen_.insert(p[3]->text).second) out_.locations.push_back(p[3]->text);
    storages_.push_back(std::move(s));
    Value* v = u.make(Kind::object);
    v->text = "storage";
    v->object_id = static_cast<int64_t>(storages_.size() - 1);
    return v;
  }

  static bool is_tensor(const Value& v) { return v.is(Kind::object) && v.text == "tensor"; }
  const TensorSpec& tensor(const Value& v) const { return tensors_[static_cast<size_t>(v.object_id)]; }
  const StorageRef& storage(size_t i) const { return storages_[i]; }
  uint64_t distinct_storage_bytes() const {
    uint64_t total = 0;
    for (const auto& [key, b] : bytes_by_key_) total += b.size();
    return total;
  }

 private:
  Value* rebuild_tensor(pickle::Unpickler& u, const Value& f, const std::vector<Value*>& a) {
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]);
    // _rebuild_tensor(storage, offset, size, stride).
    const bool v2 = f.name == "_rebuild_tensor_v2";
    if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
      u.fail(fmt::format("{} with {} arguments", f.name, a.size()));
    if (!a[0]->is(Kind::object) || a[0]->text != "storage")
      u.fail(fmt::format("{}: first argument {} is not a storage", f.name, describe(*a[0])));
    if (!a[1]->is(Kind::integer)) u.fail(fmt::format("{}: storage offset {} is not an int", f.name, describe(*a[1])));
    TensorSpec t{static_cast<size_t>(a[0]->object_id), a[1]->integer, int_tuple(u, *a[2], "size"),
                 int_tuple(u, *a[3], "stride")};
    if (t.sizes.size() != t.strides.size())
      u.fail(fmt::format("{}: {} sizes but {} strides", f.name, t.sizes.size(), t.strides.size()));
    tensors_.push_back(std::move(t));
    Value* v = u.make(Kind::object);
    v->text = "tensor";
    v->object_id = static_cast<int64_t>(tensors_.size() - 1);
    return v;
  }

  static Shape int_tuple(pickle::Unpickler& u, const Value& v, const char* what) {
    if (!v.is(Kind::tuple)) u.fail(fmt::format("tensor {} {} is not a tuple", what, describe(v)));
    if (v.items.size() > static_cast<size_t>(kMaxDims))
      u.fail(fmt::format("tensor {} has {} dims ({} at most)", what, v.items.size(), kMaxDims));
    Shape s;
    for (const Value* x : v.items) {
      if (!x->is(Kind::integer)) u.fail(fmt::format("tensor {} holds {}, not an int", what, describe(*x)));
      s.push_back(x->integer);
    }
    return s;
  }

  const StorageLookup& lookup_;
  TorchCheckpoint& out_;
  std::vector<StorageRef> storages_;
  std::vector<TensorSpec> tensors_;
  std::map<std::string, Bytes> bytes_by_key_;
  // out_.locations in a set: a search of the list itself cost O(storages x locations), minutes for a crafted file.
  std::set<std::string> locations_seen_;
};

// Copies the strided view of `src` (elements of `esize` bytes) into contiguous `dst`.
void gather_strided(uint8_t* dst, const uint8_t* src, size_t esize, const Shape& sizes, const Shape& strides) {
  const int64_t numel = shape_numel(sizes);
  if (numel == 0) return;
  const int64_t nd = static_cast<int64_t>(sizes.size());
  if (nd == 0 || strides == contiguous_strides(sizes)) {
    std::memcpy(dst, src, static_cast<size_t>(numel) * esize);
    return;
  }
  const int64_t es = static_cast<int64_t>(esize);
  const int64_t inner = sizes[nd - 1], inner_step = strides[nd - 1] * es;
  Shape index(static_cast<size_t>(nd), 0);
  for (int64_t done = 0; done < numel; done += inner) {
    int64_t base = 0;
    for (int64_t d = 0; d < nd - 1; ++d) base += index[d] * strides[d];
    const uint8_t* s = src + base * es;
    for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * es, s + i * inner_step, esize);
    dst += inner * es;
    for (int64_t d = nd - 2; d >= 0; --d) {  // odometer over the outer dims
      if (++index[d] < sizes[d]) break;
      index[d] = 0;
    }
  }
}

Tensor materialize(const std::string& source, const std::string& name, const TensorSpec& t, const StorageRef& s,
                   uint64_t& budget) {
  const auto bad = [&](const std::string& why) { AGF_FAIL("{}: tensor '{}': {}", source, name, why); };
  if (t.offset < 0) bad(fmt::format("negative storage offset {}", t.offset));
  for (size_t d = 0; d < t.sizes.size(); ++d)
    if (t.sizes[d] < 0 || t.strides[d] < 0)
      bad(fmt::format("negative size or stride (size {}, stride {})", shape_str(t.sizes), shape_str(t.strides)));
  // The copy made is contiguous: its strides must fit as well as its elements. (0, 2^62, 4) holds nothing, yet
  // its strides overflow.
  if (!shape_fits(t.sizes, dtype_size(s.dtype)))
    bad(fmt::format("size {} overflows 64 bits (its element count, strides or bytes)", shape_str(t.sizes)));
  const auto numel = static_cast<uint64_t>(shape_numel(t.sizes));
  uint64_t extent = static_cast<uint64_t>(t.offset);
  if (numel > 0) {
    for (size_t d = 0; d < t.sizes.size(); ++d) {
      uint64_t span = 0;
      if (mul_overflows(static_cast<uint64_t>(t.sizes[d] - 1), static_cast<uint64_t>(t.strides[d]), &span) ||
          add_overflows(extent, span, &extent))
        bad(fmt::format("size {} with stride {} overflows 64 bits", shape_str(t.sizes), shape_str(t.strides)));
    }
    if (extent >= static_cast<uint64_t>(s.numel))
      bad(fmt::format("size {}, stride {} at offset {} reach element {}, beyond its storage '{}' of {} elements",
                      shape_str(t.sizes), shape_str(t.strides), t.offset, extent, s.key, s.numel));
  }
  // Views never hold more elements than their storage unless they repeat elements (stride 0, an expanded
  // tensor): not something a state dict holds, and a way to make a small file allocate without bound.
  if (numel > static_cast<uint64_t>(s.numel))
    bad(fmt::format("{} elements viewing a storage of {} (an expanded view)", numel, s.numel));
  const auto nbytes = static_cast<uint64_t>(shape_nbytes(t.sizes, dtype_size(s.dtype)));
  if (nbytes > budget) bad("the tensors would take more than 16x the checkpoint's storage bytes");
  budget -= nbytes;

  Tensor out = empty(t.sizes, s.dtype, Device::cpu());
  if (numel == 0) return out;  // its offset may lie anywhere: never form a pointer from it
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  gather_strided(dst, s.bytes.data() + t.offset * static_cast<int64_t>(dtype_size(s.dtype)), dtype_size(s.dtype),
                 t.sizes, t.strides);
  if (s.dtype == DType::boolean)  // a bool is 0 or 1 in C++; any other byte would be undefined to read
    for (uint64_t i = 0; i < numel; ++i) dst[i] = dst[i] != 0;
  return out;
}

// The state dict inside a checkpoint: the dict itself, or the dict under one of the usual wrapper keys.
const Value& unwrap_state_dict(const std::string& source, const Value& root, TorchCheckpoint& out) {
  AGF_CHECK(root.is(Kind::dict), "{}: the checkpoint holds a {}, not a state dict", source, describe(root));
  for (const char* key : {"state_dict", "model_state_dict", "model"}) {
    for (const auto& [k, v] : root.entries) {
      if (!k->is(Kind::string) || k->text != key || !v->is(Kind::dict)) continue;
      out.wrapper_key = key;
      for (const auto& [k2, v2] : root.entries)
        if (v2 != v)
          out.notes.push_back(fmt::format("skipped wrapper entry {} ({})",
                                          k2->is(Kind::string) ? fmt::format("'{}'", k2->text) : describe(*k2),
                                          describe(*v2)));
      return *v;
    }
  }
  return root;
}

}  // namespace

namespace detail {
TorchCheckpoint read_torch_pickle_as(Bytes pickle_bytes, const std::string& source, const std::string& pickle_what,
                                     const StorageLookup& lookup, const TorchLoadOptions& options) {
  TorchCheckpoint out;
  StateDictResolver resolver(lookup, out);
  pickle::Unpickler unpickler(pickle_bytes, pickle_what, resolver);
  const Value& root = unpickler.load();
  const Value& dict = unwrap_state_dict(source, root, out);

  uint64_t budget = 0;
  if (mul_overflows(resolver.distinct_storage_bytes(), 16, &budget)) budget = UINT64_MAX;
  budget += 4096;
  std::set<std::string> names;
  for (const auto& [k, v] : dict.entries) {
    if (!k->is(Kind::string)) {
      out.notes.push_back(fmt::format("skipped an entry with key {}: not a name", describe(*k)));
      continue;
    }
    if (!StateDictResolver::is_tensor(*v)) {
      out.notes.push_back(fmt::format("skipped '{}': {} is not a tensor", k->text, describe(*v)));
      continue;
    }
    std::string name = k->text;
    if (options.strip_module_prefix && name.starts_with("module.")) name.erase(0, 7);
    AGF_CHECK(names.insert(name).second, "{}: tensor name '{}' appears twice", source, name);
    const TensorSpec& spec = resolver.tensor(*v);
    Tensor t = materialize(source, name, spec, resolver.storage(spec.storage), budget);
    if (options.device != Device::cpu()) t = t.to(options.device);
    out.tensors.emplace_back(std::move(name), std::move(t));
  }
  return out;
}
}  // namespace detail

TorchCheckpoint read_torch_pickle(Bytes pickle_bytes, std::string_view source, const StorageLookup& lookup,
                                  const TorchLoadOptions& options) {
  const std::string s(source);
  return detail::read_torch_pickle_as(pickle_bytes, s, s, lookup, options);
}

}  // namespace agf::io
