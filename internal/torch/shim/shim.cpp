// The C++ half of the shim: each fs_* function unwraps handles, calls one
// libtorch function and turns any exception into an error string. Only APIs
// that exist unchanged in libtorch 1.13 and 2.x are used, so the same file
// builds against Debian's CPU libtorch and a CUDA libtorch 2.x.
//
// <torch/torch.h> is avoided on purpose: ATen plus two small headers compile
// several times faster, and the optimiser is our own fused loop anyway.

#include "shim.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/cuda.h>

#include <dlfcn.h>
#include <malloc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

struct fs_tensor_s {
	at::Tensor t;
};

namespace {

fs_error dup_error(const char *msg) {
	size_t n = std::strlen(msg);
	char *s = static_cast<char *>(std::malloc(n + 1));
	if (s == nullptr) return nullptr;  // out of memory: nothing better to say
	std::memcpy(s, msg, n + 1);
	return s;
}

// libtorch keeps the OpenMP thread count per OS thread and only applies the
// global setting when a thread first runs a parallel op. Go moves goroutines
// between OS threads, so each call checks that its thread has the current
// setting; the check is one atomic load and one thread-local compare.
std::atomic<int> g_threads{0};
thread_local int t_threads = 0;

inline void sync_threads() {
	int n = g_threads.load(std::memory_order_relaxed);
	if (n > 0 && n != t_threads) {
		at::set_num_threads(n);
		t_threads = n;
	}
}

const at::Tensor &T(fs_tensor h) {
	if (h == nullptr) throw std::invalid_argument("nil tensor handle");
	return h->t;
}

// Optional tensors (bias, norm affine parameters) are NULL handles; libtorch
// treats an undefined tensor as "absent".
at::Tensor opt(fs_tensor h) { return h == nullptr ? at::Tensor() : h->t; }

fs_tensor wrap(at::Tensor t) { return new fs_tensor_s{std::move(t)}; }

at::ScalarType scalar_type(int dtype) {
	switch (dtype) {
	case FS_F32: return at::kFloat;
	case FS_F64: return at::kDouble;
	case FS_I64: return at::kLong;
	case FS_I32: return at::kInt;
	case FS_U8: return at::kByte;
	case FS_BOOL: return at::kBool;
	case FS_F16: return at::kHalf;
	case FS_BF16: return at::kBFloat16;
	}
	throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
}

int dtype_code(at::ScalarType s) {
	switch (s) {
	case at::kFloat: return FS_F32;
	case at::kDouble: return FS_F64;
	case at::kLong: return FS_I64;
	case at::kInt: return FS_I32;
	case at::kByte: return FS_U8;
	case at::kBool: return FS_BOOL;
	case at::kHalf: return FS_F16;
	case at::kBFloat16: return FS_BF16;
	default: return -1;
	}
}

at::Device device(int type, int index) {
	switch (type) {
	case FS_CPU: return at::Device(at::kCPU);
	case FS_CUDA: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
	}
	throw std::invalid_argument("unknown device type " + std::to_string(type));
}

at::IntArrayRef ints(const int64_t *p, int n) {
	if (n < 0) throw std::invalid_argument("negative list length");
	return at::IntArrayRef(p, static_cast<size_t>(n));
}

void need(int n, int want, const char *what) {
	if (n != want) throw std::invalid_argument(std::string(what) + " needs " + std::to_string(want) +
	                                           " ints, got " + std::to_string(n));
}

}  // namespace

#define FS_TRY      \
	try {           \
		sync_threads();
#define FS_CATCH                                                   \
	}                                                              \
	catch (const c10::Error &e) {                                  \
		return dup_error(e.what_without_backtrace());              \
	}                                                              \
	catch (const std::exception &e) {                              \
		return dup_error(e.what());                                \
	}                                                              \
	catch (...) {                                                  \
		return dup_error("unknown C++ exception");                 \
	}                                                              \
	return nullptr;

namespace {
void fs_seed(uint64_t seed);
}

extern "C" {

fs_error fs_tune_malloc(void) {
	FS_TRY
	// Training allocates and frees the same large activation and gradient
	// buffers every step. By default glibc serves blocks above its mmap
	// threshold with fresh mmap()s and unmaps them on free, so every step
	// page-faults (and zeroes) hundreds of MB again, and it returns freed
	// heap tops to the kernel. Keep everything in the heap instead: no mmap
	// for blocks (glibc's threshold cannot exceed 32 MB, while gradients of
	// the full DeepFakes model reach 75 MB), and trim only above 1 GB free.
	// Measured on the full model (2 cores): 11.2 img/s against 8.2-9.2 with
	// glibc's defaults, for ~4% more peak memory.
	mallopt(M_MMAP_MAX, 0);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_TOP_PAD, 64 << 20);
	FS_CATCH
}

int fs_single_thread_blas(void) {
	// Debian's libtorch does matrix products (Linear, MatMul) in OpenBLAS,
	// whose own worker threads spin-wait for a long while after each call
	// and so fight libtorch's OpenMP threads for the cores: on 2 cores the
	// DeepFakes training step ran up to 1.5x faster with OpenBLAS on one
	// thread. Products are a small share of these models' time; the
	// convolutions run in oneDNN on libtorch's threads. Builds on MKL (pip
	// wheels) have no such symbol, and nothing changes.
	using set_threads = void (*)(int);
	auto f = reinterpret_cast<set_threads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
	if (f == nullptr) return 0;
	f(1);
	return 1;
}

void fs_free_error(fs_error e) { std::free(e); }

fs_error fs_set_threads(int n) {
	FS_TRY
	if (n < 1) throw std::invalid_argument("thread count must be at least 1");
	g_threads.store(n, std::memory_order_relaxed);
	sync_threads();
	FS_CATCH
}

int fs_get_threads(void) {
	try {
		sync_threads();
		return at::get_num_threads();
	} catch (...) {
		return 1;
	}
}

void fs_manual_seed(uint64_t seed) {
	try {
		fs_seed(seed);
	} catch (...) {
		// Seeding a CPU generator cannot fail; a CUDA one failing leaves
		// CUDA unseeded, which the caller cannot do better about.
	}
}

int fs_cuda_device_count(void) {
	try {
		return static_cast<int>(torch::cuda::device_count());
	} catch (...) {
		return 0;
	}
}

void fs_set_grad_enabled(int on) { c10::GradMode::set_enabled(on != 0); }
int fs_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

void fs_free(fs_tensor t) { delete t; }

fs_error fs_from_data(const void *data, int dtype, const int64_t *shape, int ndim, fs_tensor *out) {
	FS_TRY
	at::Tensor t = at::empty(ints(shape, ndim), at::TensorOptions().dtype(scalar_type(dtype)));
	if (t.numel() > 0) std::memcpy(t.data_ptr(), data, t.numel() * t.element_size());
	*out = wrap(std::move(t));
	FS_CATCH
}

fs_error fs_fill(int kind, const int64_t *shape, int ndim, double value, int dtype, int dev_type, int dev_index,
                 fs_tensor *out) {
	FS_TRY
	auto o = at::TensorOptions().dtype(scalar_type(dtype)).device(device(dev_type, dev_index));
	auto s = ints(shape, ndim);
	at::Tensor t;
	switch (kind) {
	case FS_ZEROS: t = at::zeros(s, o); break;
	case FS_ONES: t = at::ones(s, o); break;
	case FS_FULL: t = at::full(s, value, o); break;
	case FS_RAND: t = at::rand(s, o); break;
	case FS_RANDN: t = at::randn(s, o); break;
	case FS_ARANGE: t = at::arange(value, o); break;
	default: throw std::invalid_argument("unknown fill kind");
	}
	*out = wrap(std::move(t));
	FS_CATCH
}

fs_error fs_fill_like(int kind, fs_tensor like, double value, fs_tensor *out) {
	FS_TRY
	const at::Tensor &l = T(like);
	at::Tensor t;
	switch (kind) {
	case FS_ZEROS: t = at::zeros_like(l); break;
	case FS_ONES: t = at::ones_like(l); break;
	case FS_FULL: t = at::full_like(l, value); break;
	case FS_RAND: t = at::rand_like(l); break;
	case FS_RANDN: t = at::randn_like(l); break;
	default: throw std::invalid_argument("unknown fill kind");
	}
	*out = wrap(std::move(t));
	FS_CATCH
}

fs_error fs_copy_out(fs_tensor h, void *dst, int dtype, int64_t n) {
	FS_TRY
	at::Tensor t = T(h).detach().to(at::kCPU, scalar_type(dtype)).contiguous();
	if (t.numel() != n)
		throw std::invalid_argument("destination holds " + std::to_string(n) + " elements, tensor has " +
		                            std::to_string(t.numel()));
	if (n > 0) std::memcpy(dst, t.data_ptr(), n * t.element_size());
	FS_CATCH
}

fs_error fs_info(fs_tensor h, int64_t *shape, int cap, int *ndim, int *dtype, int *dev_type, int *dev_index,
                 int *requires_grad) {
	FS_TRY
	const at::Tensor &t = T(h);
	if (!t.defined()) throw std::invalid_argument("undefined tensor");
	auto s = t.sizes();
	*ndim = static_cast<int>(s.size());
	for (int i = 0; i < *ndim && i < cap; i++) shape[i] = s[i];
	*dtype = dtype_code(t.scalar_type());
	*dev_type = t.device().is_cuda() ? FS_CUDA : FS_CPU;
	*dev_index = t.device().has_index() ? t.device().index() : 0;
	*requires_grad = t.requires_grad() ? 1 : 0;
	FS_CATCH
}

fs_error fs_to(fs_tensor h, int dev_type, int dev_index, int dtype, fs_tensor *out) {
	FS_TRY
	*out = wrap(T(h).to(device(dev_type, dev_index), scalar_type(dtype)));
	FS_CATCH
}

fs_error fs_shallow(fs_tensor h, fs_tensor *out) {
	FS_TRY
	*out = wrap(T(h));
	FS_CATCH
}

fs_error fs_copy_(fs_tensor dst, fs_tensor src) {
	FS_TRY
	c10::NoGradGuard g;
	at::Tensor d = T(dst);
	if (d.sizes() != T(src).sizes())
		throw std::invalid_argument("copy: shape " + c10::str(T(src).sizes()) + " into " + c10::str(d.sizes()));
	d.copy_(T(src));
	FS_CATCH
}

fs_error fs_uniform_(fs_tensor h, double lo, double hi) {
	FS_TRY
	c10::NoGradGuard g;
	at::Tensor t = T(h);
	t.uniform_(lo, hi);
	FS_CATCH
}

fs_error fs_normal_(fs_tensor h, double mean, double std) {
	FS_TRY
	c10::NoGradGuard g;
	at::Tensor t = T(h);
	t.normal_(mean, std);
	FS_CATCH
}

fs_error fs_fill_(fs_tensor h, double value) {
	FS_TRY
	c10::NoGradGuard g;
	at::Tensor t = T(h);
	t.fill_(value);
	FS_CATCH
}

fs_error fs_set_requires_grad(fs_tensor h, int on) {
	FS_TRY
	at::Tensor t = T(h);
	t.set_requires_grad(on != 0);
	FS_CATCH
}

fs_error fs_backward(fs_tensor h, fs_tensor grad, int retain_graph) {
	FS_TRY
	T(h).backward(opt(grad), retain_graph != 0, false);
	FS_CATCH
}

fs_error fs_grad(fs_tensor h, fs_tensor *out) {
	FS_TRY
	const at::Tensor &g = T(h).grad();
	*out = g.defined() ? wrap(g) : nullptr;
	FS_CATCH
}

fs_error fs_clear_grad(fs_tensor h) {
	FS_TRY
	at::Tensor t = T(h);
	t.mutable_grad().reset();
	FS_CATCH
}

fs_error fs_unary(int op, fs_tensor h, fs_tensor *out) {
	FS_TRY
	const at::Tensor &x = T(h);
	at::Tensor r;
	switch (op) {
	case FS_RELU: r = at::relu(x); break;
	case FS_SIGMOID: r = at::sigmoid(x); break;
	case FS_TANH: r = at::tanh(x); break;
	case FS_SOFTPLUS: r = at::softplus(x); break;
	case FS_SQRT: r = at::sqrt(x); break;
	case FS_RSQRT: r = at::rsqrt(x); break;
	case FS_EXP: r = at::exp(x); break;
	case FS_LOG: r = at::log(x); break;
	case FS_ABS: r = at::abs(x); break;
	case FS_NEG: r = at::neg(x); break;
	case FS_SQUARE: r = at::square(x); break;
	case FS_SIN: r = at::sin(x); break;
	case FS_COS: r = at::cos(x); break;
	case FS_GELU: r = at::gelu(x); break;
	case FS_SILU: r = at::silu(x); break;
	case FS_DETACH: r = x.detach(); break;
	case FS_CONTIGUOUS: r = x.contiguous(); break;
	case FS_CLONE: r = x.clone(); break;
	case FS_CHANNELS_LAST: r = x.contiguous(x.dim() == 4 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous); break;
	default: throw std::invalid_argument("unknown unary op");
	}
	*out = wrap(std::move(r));
	FS_CATCH
}

fs_error fs_scalar(int op, fs_tensor h, double a, double b, fs_tensor *out) {
	FS_TRY
	const at::Tensor &x = T(h);
	at::Tensor r;
	switch (op) {
	case FS_LEAKY_RELU: r = at::leaky_relu(x, a); break;
	case FS_ADD_SCALAR: r = at::add(x, a); break;
	case FS_MUL_SCALAR: r = at::mul(x, a); break;
	case FS_RSUB_SCALAR: r = at::rsub(x, a); break;
	case FS_POW_SCALAR: r = at::pow(x, a); break;
	case FS_CLAMP: r = at::clamp(x, a, b); break;
	case FS_DROPOUT: r = at::dropout(x, a, b != 0); break;
	case FS_SOFTMAX: r = at::softmax(x, static_cast<int64_t>(a)); break;
	case FS_LOG_SOFTMAX: r = at::log_softmax(x, static_cast<int64_t>(a)); break;
	default: throw std::invalid_argument("unknown scalar op");
	}
	*out = wrap(std::move(r));
	FS_CATCH
}

fs_error fs_binary(int op, fs_tensor ha, fs_tensor hb, fs_tensor *out) {
	FS_TRY
	const at::Tensor &a = T(ha), &b = T(hb);
	at::Tensor r;
	switch (op) {
	case FS_ADD: r = at::add(a, b); break;
	case FS_SUB: r = at::sub(a, b); break;
	case FS_MUL: r = at::mul(a, b); break;
	case FS_DIV: r = at::div(a, b); break;
	case FS_MATMUL: r = at::matmul(a, b); break;
	case FS_POW: r = at::pow(a, b); break;
	case FS_MAXIMUM: r = at::maximum(a, b); break;
	case FS_MINIMUM: r = at::minimum(a, b); break;
	default: throw std::invalid_argument("unknown binary op");
	}
	*out = wrap(std::move(r));
	FS_CATCH
}

fs_error fs_reduce(int op, fs_tensor h, const int64_t *dims, int ndims, int keepdim, int unbiased, fs_tensor *out) {
	FS_TRY
	const at::Tensor &x = T(h);
	auto d = ints(dims, ndims);
	bool all = ndims == 0, k = keepdim != 0, u = unbiased != 0;
	at::Tensor r;
	switch (op) {
	case FS_SUM: r = all ? at::sum(x) : at::sum(x, d, k); break;
	case FS_MEAN: r = all ? at::mean(x) : at::mean(x, d, k); break;
	case FS_STD: r = all ? at::std(x, u) : at::std(x, d, u, k); break;
	case FS_VAR: r = all ? at::var(x, u) : at::var(x, d, u, k); break;
	case FS_AMAX: r = all ? at::max(x) : at::amax(x, d, k); break;
	case FS_AMIN: r = all ? at::min(x) : at::amin(x, d, k); break;
	default: throw std::invalid_argument("unknown reduction");
	}
	*out = wrap(std::move(r));
	FS_CATCH
}

fs_error fs_shape_op(int op, fs_tensor h, const int64_t *p, int n, fs_tensor *out) {
	FS_TRY
	const at::Tensor &x = T(h);
	auto l = ints(p, n);
	at::Tensor r;
	switch (op) {
	case FS_RESHAPE: r = x.reshape(l); break;
	case FS_VIEW: r = x.view(l); break;
	case FS_PERMUTE: r = x.permute(l); break;
	case FS_EXPAND: r = x.expand(l); break;
	case FS_REPEAT: r = x.repeat(l); break;
	case FS_FLATTEN: need(n, 2, "flatten"); r = x.flatten(p[0], p[1]); break;
	case FS_SQUEEZE: need(n, 1, "squeeze"); r = x.squeeze(p[0]); break;
	case FS_UNSQUEEZE: need(n, 1, "unsqueeze"); r = x.unsqueeze(p[0]); break;
	case FS_TRANSPOSE: need(n, 2, "transpose"); r = x.transpose(p[0], p[1]); break;
	case FS_SLICE: need(n, 4, "slice"); r = x.slice(p[0], p[1], p[2], p[3]); break;
	case FS_NARROW: need(n, 3, "narrow"); r = x.narrow(p[0], p[1], p[2]); break;
	case FS_SELECT: need(n, 2, "select"); r = x.select(p[0], p[1]); break;
	case FS_PIXEL_SHUFFLE: need(n, 1, "pixel shuffle"); r = at::pixel_shuffle(x, p[0]); break;
	case FS_PIXEL_UNSHUFFLE: need(n, 1, "pixel unshuffle"); r = at::pixel_unshuffle(x, p[0]); break;
	default: throw std::invalid_argument("unknown shape op");
	}
	*out = wrap(std::move(r));
	FS_CATCH
}

fs_error fs_index_select(fs_tensor x, int64_t dim, fs_tensor index, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::index_select(T(x), dim, T(index)));
	FS_CATCH
}

fs_error fs_cat(const fs_tensor *ts, int n, int64_t dim, int stack, fs_tensor *out) {
	FS_TRY
	if (n < 1) throw std::invalid_argument("no tensors");
	std::vector<at::Tensor> v;
	v.reserve(n);
	for (int i = 0; i < n; i++) v.push_back(T(ts[i]));
	*out = wrap(stack ? at::stack(v, dim) : at::cat(v, dim));
	FS_CATCH
}

fs_error fs_grid_sample(fs_tensor x, fs_tensor grid, int mode, int padding_mode, int align_corners, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::grid_sampler(T(x), T(grid), mode, padding_mode, align_corners != 0));
	FS_CATCH
}

fs_error fs_conv(fs_tensor x, fs_tensor w, fs_tensor bias, const int64_t *stride, const int64_t *padding,
                 const int64_t *dilation, const int64_t *output_padding, int nd, int transposed, int64_t groups,
                 fs_tensor *out) {
	FS_TRY
	*out = wrap(at::convolution(T(x), T(w), opt(bias), ints(stride, nd), ints(padding, nd), ints(dilation, nd),
	                            transposed != 0, ints(output_padding, nd), groups));
	FS_CATCH
}

fs_error fs_linear(fs_tensor x, fs_tensor w, fs_tensor bias, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::linear(T(x), T(w), opt(bias)));
	FS_CATCH
}

fs_error fs_pool2d(int op, fs_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                   int ceil_mode, int count_include_pad, fs_tensor *out) {
	FS_TRY
	at::IntArrayRef k = ints(kernel, 2), s = ints(stride, 2), p = ints(padding, 2);
	switch (op) {
	case FS_MAX_POOL: *out = wrap(at::max_pool2d(T(x), k, s, p, {1, 1}, ceil_mode != 0)); break;
	case FS_AVG_POOL: *out = wrap(at::avg_pool2d(T(x), k, s, p, ceil_mode != 0, count_include_pad != 0)); break;
	default: throw std::invalid_argument("unknown pool op");
	}
	FS_CATCH
}

fs_error fs_adaptive_avg_pool2d(fs_tensor x, int64_t h, int64_t w, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::adaptive_avg_pool2d(T(x), {h, w}));
	FS_CATCH
}

fs_error fs_upsample2d(int mode, fs_tensor x, int64_t h, int64_t w, double scale_h, double scale_w,
                       int align_corners, fs_tensor *out) {
	FS_TRY
	c10::optional<double> sh, sw;
	if (scale_h > 0) sh = scale_h;
	if (scale_w > 0) sw = scale_w;
	switch (mode) {
	case FS_NEAREST: *out = wrap(at::upsample_nearest2d(T(x), {h, w}, sh, sw)); break;
	case FS_BILINEAR: *out = wrap(at::upsample_bilinear2d(T(x), {h, w}, align_corners != 0, sh, sw)); break;
	default: throw std::invalid_argument("unknown upsample mode");
	}
	FS_CATCH
}

fs_error fs_batch_norm(fs_tensor x, fs_tensor w, fs_tensor b, fs_tensor running_mean, fs_tensor running_var,
                       int training, double momentum, double eps, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::batch_norm(T(x), opt(w), opt(b), opt(running_mean), opt(running_var), training != 0, momentum,
	                           eps, true));
	FS_CATCH
}

fs_error fs_instance_norm(fs_tensor x, fs_tensor w, fs_tensor b, double eps, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::instance_norm(T(x), opt(w), opt(b), at::Tensor(), at::Tensor(), true, 0.0, eps, true));
	FS_CATCH
}

fs_error fs_group_norm(fs_tensor x, int64_t groups, fs_tensor w, fs_tensor b, double eps, fs_tensor *out) {
	FS_TRY
	*out = wrap(at::group_norm(T(x), groups, opt(w), opt(b), eps, true));
	FS_CATCH
}

fs_error fs_layer_norm(fs_tensor x, const int64_t *shape, int n, fs_tensor w, fs_tensor b, double eps,
                       fs_tensor *out) {
	FS_TRY
	*out = wrap(at::layer_norm(T(x), ints(shape, n), opt(w), opt(b), eps, true));
	FS_CATCH
}

fs_error fs_loss(int op, fs_tensor x, fs_tensor y, int reduction, fs_tensor *out) {
	FS_TRY
	int64_t r;
	switch (reduction) {
	case FS_REDUCE_NONE: r = at::Reduction::None; break;
	case FS_REDUCE_MEAN: r = at::Reduction::Mean; break;
	case FS_REDUCE_SUM: r = at::Reduction::Sum; break;
	default: throw std::invalid_argument("unknown reduction");
	}
	switch (op) {
	case FS_L1_LOSS: *out = wrap(at::l1_loss(T(x), T(y), r)); break;
	case FS_MSE_LOSS: *out = wrap(at::mse_loss(T(x), T(y), r)); break;
	case FS_BCE_LOGITS_LOSS:
		*out = wrap(at::binary_cross_entropy_with_logits(T(x), T(y), at::Tensor(), at::Tensor(), r));
		break;
	default: throw std::invalid_argument("unknown loss");
	}
	FS_CATCH
}

fs_error fs_gru(fs_tensor input, fs_tensor hx, const fs_tensor *params, int nparams, int has_biases,
                int64_t num_layers, double dropout, int train, int batch_first, fs_tensor *out, fs_tensor *hy) {
	FS_TRY
	std::vector<at::Tensor> p;
	p.reserve(nparams);
	for (int i = 0; i < nparams; i++) p.push_back(T(params[i]));
	auto r = at::gru(T(input), T(hx), p, has_biases != 0, num_layers, dropout, train != 0, false,
	                 batch_first != 0);
	*out = wrap(std::get<0>(r));
	*hy = wrap(std::get<1>(r));
	FS_CATCH
}

}  // extern "C"

namespace {

void fs_seed(uint64_t seed) {
	{
		auto gen = at::detail::getDefaultCPUGenerator();
		std::lock_guard<std::mutex> lock(gen.mutex());
		gen.set_current_seed(seed);
	}
	int n = fs_cuda_device_count();
	for (int i = 0; i < n; i++) {
		auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
		std::lock_guard<std::mutex> lock(gen.mutex());
		gen.set_current_seed(seed);
	}
}

// Adam's coefficients, as float32 roundings of values computed in double
// (1 − β in particular: 1 − 0.999f is 1.3e-5 off 0.001f), as PyTorch's
// Python scalars are. keep (AdamW's 1 − lr·wd) and l2 (Adam's wd) are 1
// and 0 when unused, which leaves values bit-exact, so the loop needs no
// branch.
struct adam_coef {
	float b1, ob1, b2, ob2, step_size, bc2_sqrt, eps, l2, keep;
};

inline float adam_one(float &p, float g, float &m, float &v, const adam_coef &c) {
	float pi = p * c.keep, gi = g + c.l2 * p;
	m = m * c.b1 + c.ob1 * gi;
	v = v * c.b2 + c.ob2 * (gi * gi);
	return p = pi - c.step_size * (m / (std::sqrt(v) / c.bc2_sqrt + c.eps));
}

// adam_span updates n elements. GCC will not vectorise std::sqrt without
// -fno-math-errno, which cgo does not allow in #cgo flags, so on x86 the
// loop is written with SSE vectors; every operation is one IEEE rounding
// as in the scalar form, so both give identical bits.
void adam_span(float *p, const float *g, float *m, float *v, int64_t n, const adam_coef &c) {
	int64_t i = 0;
#if defined(__SSE2__)
	const __m128 b1 = _mm_set1_ps(c.b1), ob1 = _mm_set1_ps(c.ob1), b2 = _mm_set1_ps(c.b2), ob2 = _mm_set1_ps(c.ob2),
	             ss = _mm_set1_ps(c.step_size), bc2 = _mm_set1_ps(c.bc2_sqrt), eps = _mm_set1_ps(c.eps),
	             l2 = _mm_set1_ps(c.l2), keep = _mm_set1_ps(c.keep);
	for (; i + 4 <= n; i += 4) {
		__m128 p4 = _mm_loadu_ps(p + i), g4 = _mm_loadu_ps(g + i);
		__m128 pi = _mm_mul_ps(p4, keep), gi = _mm_add_ps(g4, _mm_mul_ps(l2, p4));
		__m128 m4 = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), b1), _mm_mul_ps(ob1, gi));
		__m128 v4 = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), b2), _mm_mul_ps(ob2, _mm_mul_ps(gi, gi)));
		_mm_storeu_ps(m + i, m4);
		_mm_storeu_ps(v + i, v4);
		__m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(v4), bc2), eps);
		_mm_storeu_ps(p + i, _mm_sub_ps(pi, _mm_mul_ps(ss, _mm_div_ps(m4, denom))));
	}
#endif
	for (; i < n; i++) adam_one(p[i], g[i], m[i], v[i], c);
}

// One Adam step over a contiguous float32 CPU parameter in a single pass.
// PyTorch's own step makes about eight passes over four tensors; this one
// reads p, g, m, v once and writes p, m, v once, which is what makes the
// optimiser cheap for the 76 M parameters of the full DeepFakes model.
// Arithmetic follows torch.optim.Adam/AdamW (1.13) term by term.
void adam_cpu(float *p, const float *g, float *m, float *v, int64_t n, const adam_coef &c) {
	at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
		adam_span(p + begin, g + begin, m + begin, v + begin, end - begin, c);
	});
}

bool fusable(const at::Tensor &t) {
	return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}

}  // namespace

extern "C" fs_error fs_adam_step(const fs_tensor *params, const fs_tensor *exp_avg, const fs_tensor *exp_avg_sq,
                                 int64_t *steps, int n, double lr, double beta1, double beta2, double eps,
                                 double weight_decay, int decoupled) {
	FS_TRY
	c10::NoGradGuard guard;
	for (int i = 0; i < n; i++) {
		at::Tensor p = T(params[i]);
		at::Tensor g = p.grad();
		if (!g.defined()) continue;
		at::Tensor m = T(exp_avg[i]), v = T(exp_avg_sq[i]);
		if (m.sizes() != p.sizes() || v.sizes() != p.sizes())
			throw std::invalid_argument("adam: state of parameter " + std::to_string(i) + " has shape " +
			                            c10::str(m.sizes()) + ", parameter " + c10::str(p.sizes()));
		int64_t step = steps[i] + 1;
		double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
		double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
		double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
		if (fusable(p) && fusable(m) && fusable(v) && g.device().is_cpu() && g.scalar_type() == at::kFloat) {
			at::Tensor gc = g.contiguous();
			adam_coef c{static_cast<float>(beta1),
			            static_cast<float>(1.0 - beta1),
			            static_cast<float>(beta2),
			            static_cast<float>(1.0 - beta2),
			            static_cast<float>(step_size),
			            static_cast<float>(bc2_sqrt),
			            static_cast<float>(eps),
			            decoupled ? 0.0f : static_cast<float>(weight_decay),
			            decoupled ? static_cast<float>(1.0 - lr * weight_decay) : 1.0f};
			adam_cpu(p.data_ptr<float>(), gc.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), p.numel(), c);
		} else {
			// Other devices and dtypes: the same formula with tensor ops.
			if (weight_decay != 0) {
				if (decoupled)
					p.mul_(1.0 - lr * weight_decay);
				else
					g = g.add(p, weight_decay);
			}
			m.mul_(beta1).add_(g, 1.0 - beta1);
			v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
			at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(eps);
			p.addcdiv_(m, denom, -step_size);
		}
		steps[i] = step;
	}
	FS_CATCH
}
