/* A small C API over libtorch's C++ API, so that Go can call it through cgo.
 *
 * Conventions:
 *   - fs_tensor is an opaque owned handle (one at::Tensor reference); free it
 *     with fs_free. Handles are never shared between two owners: every call
 *     that returns one returns a new one.
 *   - Every fallible call returns NULL on success or a malloc'd message that
 *     the caller frees with fs_free_error. Nothing throws across this API.
 *   - Shapes and int lists are (pointer, count) pairs; pointers may be NULL
 *     when the count is 0.
 *   - Optional tensors are NULL handles.
 *   - The C++ side keeps nothing global except the thread count and the
 *     random generators; grad mode is per OS thread, as in libtorch.
 */
#ifndef FACESYNTH_TORCH_SHIM_H
#define FACESYNTH_TORCH_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_tensor_s *fs_tensor;
typedef char *fs_error;

enum fs_dtype { FS_F32 = 0, FS_F64 = 1, FS_I64 = 2, FS_I32 = 3, FS_U8 = 4, FS_BOOL = 5, FS_F16 = 6, FS_BF16 = 7 };
enum fs_device { FS_CPU = 0, FS_CUDA = 1 };

enum fs_fill_kind { FS_ZEROS = 0, FS_ONES, FS_FULL, FS_RAND, FS_RANDN, FS_ARANGE };

enum fs_unary_op {
	FS_RELU = 0, FS_SIGMOID, FS_TANH, FS_SOFTPLUS, FS_SQRT, FS_RSQRT, FS_EXP, FS_LOG,
	FS_ABS, FS_NEG, FS_SQUARE, FS_SIN, FS_COS, FS_GELU, FS_SILU,
	FS_DETACH, FS_CONTIGUOUS, FS_CLONE, FS_CHANNELS_LAST
};

/* Ops of one tensor and up to two numbers a, b. */
enum fs_scalar_op {
	FS_LEAKY_RELU = 0, /* slope a */
	FS_ADD_SCALAR,     /* x + a */
	FS_MUL_SCALAR,     /* x * a */
	FS_RSUB_SCALAR,    /* a - x */
	FS_POW_SCALAR,     /* x ^ a */
	FS_CLAMP,          /* clamp(x, a, b) */
	FS_DROPOUT,        /* dropout(x, p=a, train=b!=0) */
	FS_SOFTMAX,        /* softmax over dim a */
	FS_LOG_SOFTMAX     /* log_softmax over dim a */
};

enum fs_binary_op { FS_ADD = 0, FS_SUB, FS_MUL, FS_DIV, FS_MATMUL, FS_POW, FS_MAXIMUM, FS_MINIMUM };

enum fs_reduce_op { FS_SUM = 0, FS_MEAN, FS_STD, FS_VAR, FS_AMAX, FS_AMIN };

/* Ops that reshape or take a view, parameterised by an int list. */
enum fs_shape_op {
	FS_RESHAPE = 0,   /* ints: shape */
	FS_VIEW,          /* ints: shape */
	FS_PERMUTE,       /* ints: dims */
	FS_EXPAND,        /* ints: shape */
	FS_REPEAT,        /* ints: repeats */
	FS_FLATTEN,       /* ints: start, end */
	FS_SQUEEZE,       /* ints: dim */
	FS_UNSQUEEZE,     /* ints: dim */
	FS_TRANSPOSE,     /* ints: dim0, dim1 */
	FS_SLICE,         /* ints: dim, start, end, step */
	FS_NARROW,        /* ints: dim, start, length */
	FS_SELECT,        /* ints: dim, index */
	FS_PIXEL_SHUFFLE, /* ints: factor */
	FS_PIXEL_UNSHUFFLE /* ints: factor */
};

enum fs_loss_op { FS_L1_LOSS = 0, FS_MSE_LOSS, FS_BCE_LOGITS_LOSS };
enum fs_reduction { FS_REDUCE_NONE = 0, FS_REDUCE_MEAN = 1, FS_REDUCE_SUM = 2 };

enum fs_pool_op { FS_MAX_POOL = 0, FS_AVG_POOL };

enum fs_upsample_mode { FS_NEAREST = 0, FS_BILINEAR };

/* Process setup. */
/* fs_tune_malloc keeps large blocks in glibc's heap (see shim.cpp). */
fs_error fs_tune_malloc(void);
/* fs_single_thread_blas puts OpenBLAS, when libtorch uses it, on one thread
 * (see shim.cpp); it returns 1 when it did. */
int fs_single_thread_blas(void);
void fs_free_error(fs_error e);
fs_error fs_set_threads(int n);
int fs_get_threads(void);
void fs_manual_seed(uint64_t seed);
int fs_cuda_device_count(void);
void fs_set_grad_enabled(int on);
int fs_is_grad_enabled(void);

/* Tensors. */
void fs_free(fs_tensor t);
fs_error fs_from_data(const void *data, int dtype, const int64_t *shape, int ndim, fs_tensor *out);
fs_error fs_fill(int kind, const int64_t *shape, int ndim, double value, int dtype, int dev_type, int dev_index,
                 fs_tensor *out);
fs_error fs_fill_like(int kind, fs_tensor like, double value, fs_tensor *out);
fs_error fs_copy_out(fs_tensor t, void *dst, int dtype, int64_t n);
/* fs_info writes up to cap sizes into shape and the true rank into ndim. */
fs_error fs_info(fs_tensor t, int64_t *shape, int cap, int *ndim, int *dtype, int *dev_type, int *dev_index,
                 int *requires_grad);
fs_error fs_to(fs_tensor t, int dev_type, int dev_index, int dtype, fs_tensor *out);
fs_error fs_shallow(fs_tensor t, fs_tensor *out);

/* In-place, outside autograd: the ways parameters are initialised and loaded. */
fs_error fs_copy_(fs_tensor dst, fs_tensor src);
fs_error fs_uniform_(fs_tensor t, double lo, double hi);
fs_error fs_normal_(fs_tensor t, double mean, double std);
fs_error fs_fill_(fs_tensor t, double value);

/* Autograd. */
fs_error fs_set_requires_grad(fs_tensor t, int on);
fs_error fs_backward(fs_tensor t, fs_tensor grad, int retain_graph);
/* fs_grad sets *out to NULL when t has no gradient. */
fs_error fs_grad(fs_tensor t, fs_tensor *out);
fs_error fs_clear_grad(fs_tensor t);

/* Elementwise and friends. */
fs_error fs_unary(int op, fs_tensor x, fs_tensor *out);
fs_error fs_scalar(int op, fs_tensor x, double a, double b, fs_tensor *out);
fs_error fs_binary(int op, fs_tensor a, fs_tensor b, fs_tensor *out);
fs_error fs_reduce(int op, fs_tensor x, const int64_t *dims, int ndims, int keepdim, int unbiased, fs_tensor *out);
fs_error fs_shape_op(int op, fs_tensor x, const int64_t *ints, int n, fs_tensor *out);
fs_error fs_index_select(fs_tensor x, int64_t dim, fs_tensor index, fs_tensor *out);
/* stack != 0 stacks along a new dim instead of concatenating. */
fs_error fs_cat(const fs_tensor *ts, int n, int64_t dim, int stack, fs_tensor *out);
/* grid_sample: mode 0 bilinear, 1 nearest; padding 0 zeros, 1 border, 2 reflection. */
fs_error fs_grid_sample(fs_tensor x, fs_tensor grid, int mode, int padding_mode, int align_corners, fs_tensor *out);

/* Layers as functions; bias may be NULL. ints have nd entries each. */
fs_error fs_conv(fs_tensor x, fs_tensor w, fs_tensor bias, const int64_t *stride, const int64_t *padding,
                 const int64_t *dilation, const int64_t *output_padding, int nd, int transposed, int64_t groups,
                 fs_tensor *out);
fs_error fs_linear(fs_tensor x, fs_tensor w, fs_tensor bias, fs_tensor *out);
fs_error fs_pool2d(int op, fs_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                   int ceil_mode, int count_include_pad, fs_tensor *out);
fs_error fs_adaptive_avg_pool2d(fs_tensor x, int64_t h, int64_t w, fs_tensor *out);
/* scale_h/scale_w <= 0 mean "none": the kernel derives them from the sizes. */
fs_error fs_upsample2d(int mode, fs_tensor x, int64_t h, int64_t w, double scale_h, double scale_w,
                       int align_corners, fs_tensor *out);
fs_error fs_batch_norm(fs_tensor x, fs_tensor w, fs_tensor b, fs_tensor running_mean, fs_tensor running_var,
                       int training, double momentum, double eps, fs_tensor *out);
fs_error fs_instance_norm(fs_tensor x, fs_tensor w, fs_tensor b, double eps, fs_tensor *out);
fs_error fs_group_norm(fs_tensor x, int64_t groups, fs_tensor w, fs_tensor b, double eps, fs_tensor *out);
fs_error fs_layer_norm(fs_tensor x, const int64_t *shape, int n, fs_tensor w, fs_tensor b, double eps,
                       fs_tensor *out);
fs_error fs_loss(int op, fs_tensor x, fs_tensor y, int reduction, fs_tensor *out);
/* params: num_layers*(w_ih, w_hh[, b_ih, b_hh]) in libtorch's order. */
fs_error fs_gru(fs_tensor input, fs_tensor hx, const fs_tensor *params, int nparams, int has_biases,
                int64_t num_layers, double dropout, int train, int batch_first, fs_tensor *out, fs_tensor *hy);

/* One Adam/AdamW step over n parameters, skipping those without a gradient.
 * steps[i] is the parameter's step count and is incremented when it is
 * updated. decoupled selects AdamW's weight decay. */
fs_error fs_adam_step(const fs_tensor *params, const fs_tensor *exp_avg, const fs_tensor *exp_avg_sq,
                      int64_t *steps, int n, double lr, double beta1, double beta2, double eps,
                      double weight_decay, int decoupled);

#ifdef __cplusplus
}
#endif

#endif
