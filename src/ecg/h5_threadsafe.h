#pragma once
// Included by the translation units that call HDF5 from more than one thread at a time: collect_code15 reads parts
// on worker threads while the calling thread writes the dataset, and the batch loader's thread reads while its
// caller works (or opens other files). That is only defined behaviour in a thread-safe HDF5 build, which serialises
// every call of the C library behind one global lock and keeps an error stack per thread (Debian's libhdf5 is built
// that way). The C++ wrapper objects (H5::H5File, H5::DataSet in code15.cpp) are not themselves synchronised: a
// part is only used under its own mutex (collect_code15), never by two threads at once, and
// H5::Exception::dontPrint() sets the calling thread's error stack only.
// Fail the build, not a run, where the library is not thread-safe.
#include <H5pubconf.h>

#if !defined(H5_HAVE_THREADSAFE) || !H5_HAVE_THREADSAFE
#error "HDF5 was built without --enable-threadsafe: agf-collect and the batch loader call it from several threads; build against a thread-safe HDF5 (H5_HAVE_THREADSAFE 1 in H5pubconf.h)"
#endif
