/* SoftRas pair kernels (see softras_impl.h), in float and double: name_f32 / name_f64. */
#include <math.h>
#include <stdint.h>

#define REAL float
#define SUF(name) name##_f32
#define EXP expf
#define LOG logf
#include "softras_impl.h"
#undef REAL
#undef SUF
#undef EXP
#undef LOG

#define REAL double
#define SUF(name) name##_f64
#define EXP exp
#define LOG log
#include "softras_impl.h"
#undef REAL
#undef SUF
#undef EXP
#undef LOG
