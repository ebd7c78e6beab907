// Debian's serial OpenBLAS (libopenblas-serial-dev), linked statically into cfx (see Package.swift):
// cfx spreads work over threads itself, so BLAS calls stay on the calling thread.
#include "/usr/include/x86_64-linux-gnu/openblas-serial/cblas.h"
