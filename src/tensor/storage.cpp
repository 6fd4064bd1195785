#include "tensor/storage.h"

namespace agf {

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device, MemTag tag) {
  Allocator& a = allocator_for(device);
  void* p = a.allocate(nbytes);
  ledger(device).on_alloc(tag, nbytes);
  return std::shared_ptr<Storage>(new Storage(p, nbytes, device, tag, &a));
}

Storage::~Storage() {
  alloc_->deallocate(data_, nbytes_);
  ledger(device_).on_free(tag_, nbytes_);
}

void Storage::retag(MemTag tag) {
  if (tag == tag_) return;
  ledger(device_).on_free(tag_, nbytes_);
  ledger(device_).on_alloc(tag, nbytes_);
  tag_ = tag;
}

}  // namespace agf
