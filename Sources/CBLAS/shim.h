// Debian's OpenBLAS, pthread build (libopenblas-pthread-dev), linked statically into cfx (see
// Package.swift) and set to one thread: cfx spreads work over threads itself, and this build, unlike
// the serial one, is safe to call from several threads at once.
// Debian installs its header under the multiarch include directory (/usr/include/<triplet>/, e.g.
// x86_64-linux-gnu or aarch64-linux-gnu), which the compiler searches by default: no architecture here.
#include <openblas-pthread/cblas.h>
