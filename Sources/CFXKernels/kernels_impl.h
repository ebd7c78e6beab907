/* Every kernel of one instruction set and its table (see isa.h); included once by each isa_*.c. */
#include "isa.h"
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

#if ISA_FMA
#define MADD(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif
/* A vector of type V with every lane s. */
#define SPLAT(V, s) ({ V v_; for (size_t l_ = 0; l_ < sizeof(V) / sizeof(v_[0]); l_++) v_[l_] = (s); v_; })
/* Unaligned load of a vector of type V. */
#define LOAD(V, P) ({ V v_; memcpy(&v_, (P), sizeof(V)); v_; })

#include "exp_impl.h"
#include "softmax_impl.h"
#include "dense_impl.h"
#include "ordered_impl.h"
#include "pool_impl.h"
#include "chain_impl.h"
#include "conv_impl.h"
#include "elementwise_impl.h"
#include "fista_impl.h"
#include "adam_impl.h"
#include "convert_impl.h"

#define CFX_STRING_(x) #x
#define CFX_STRING(x) CFX_STRING_(x)

const cfx_kernel_table CFX_PASTE(cfx_kernels, ISA) = {
    CFX_STRING(ISA),
    KERNEL(dense_forward_f64), KERNEL(dense_forward_f32), KERNEL(dense_backward_f64), KERNEL(dense_backward_f32),
    KERNEL(max_pool2_f64), KERNEL(max_pool2_f32),
    KERNEL(softmax_f64), KERNEL(softmax_f32), KERNEL(softmax_backward_f64), KERNEL(softmax_backward_f32),
    KERNEL(chain_forward_f64), KERNEL(chain_forward_f32), KERNEL(chain_backward_f64), KERNEL(chain_backward_f32),
    KERNEL(conv_forward_s1_f32), KERNEL(conv_input_gradient_s1_f32),
    KERNEL(relu_forward_f64), KERNEL(relu_forward_f32), KERNEL(relu_backward_f64), KERNEL(relu_backward_f32),
    KERNEL(leaky_relu_forward_f64), KERNEL(leaky_relu_forward_f32),
    KERNEL(leaky_relu_backward_f64), KERNEL(leaky_relu_backward_f32),
    KERNEL(max_pool2_backward_f64), KERNEL(max_pool2_backward_f32),
    KERNEL(fista_update), KERNEL(adam_step), KERNEL(adam_l1_step), KERNEL(proto_gradient), KERNEL(elastic_net),
    KERNEL(count_nonfinite), KERNEL(narrow_f64), KERNEL(widen_f32),
};
