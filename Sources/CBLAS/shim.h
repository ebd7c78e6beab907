// Debian's OpenBLAS, pthread build (libopenblas-pthread-dev), linked statically into cfx (see
// Package.swift) and set to one thread: cfx spreads work over threads itself, and this build, unlike
// the serial one, is safe to call from several threads at once.
#include "/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h"
