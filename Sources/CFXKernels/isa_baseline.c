/* The kernels for any processor: baseline x86-64 (SSE2, no FMA), or the build's target elsewhere.
 * Products and sums are rounded separately, so its last bits differ from the FMA sets'. */
#define ISA baseline
#define ISA_FMA 0
#define ISA_GROUP 8
#define ISA_PAIRS 0
#define ISA_WIDE 0
#include "kernels_impl.h"
