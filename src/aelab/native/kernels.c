/* aelab's compiled kernels: the elementwise parts of a training step, fused into single passes.
 *
 * At batch 32 the study's models spend more time in ~20 small PyTorch kernels per step (sigmoid,
 * log, sums, masks, Adam's several passes), each a dispatch plus a trip through memory, than in
 * their matrix products. These functions do each of those groups in one pass over the data; the
 * products stay with PyTorch's BLAS. Plain C on raw float32 pointers (no Python or torch headers),
 * so it compiles in a fraction of a second (native/build.py) and is called through ctypes.
 *
 * Every array is row-major and contiguous. "models" stacks independent models (a sweep): model m's
 * rows start at m * rows * cols; a single model passes models = 1.
 * Built without -ffinite-math-only, so NaN and inf propagate and the trainer's guards still see them.
 */
#include <math.h>
#include <stdint.h>

/* glibc's vector maths (libmvec) for these two, so that the loops below vectorize. */
extern float expf(float) __attribute__((__simd__("notinbranch")));
extern float logf(float) __attribute__((__simd__("notinbranch")));

/* log(1 + e) for e = e^{−|z|} in (0, 1]: a degree-9 polynomial fitted at Chebyshev nodes on [0, 1]
 * (error 5e-9; 1e-7 after float32 rounding, below logf's own on values of this size). A handful of
 * FMAs instead of a call to the vector log: the output layer's loss is the step's largest
 * elementwise pass (one per pixel per model); this made it 23% faster (43.6 → 33.6 µs per shallow step). */
static inline float log1p_unit(float e)
{
    float p = 0.003752624150365591f;
    p = p * e - 0.02303827926516533f;
    p = p * e + 0.06651248037815094f;
    p = p * e - 0.12526661157608032f;
    p = p * e + 0.1846884787082672f;
    p = p * e - 0.24635660648345947f;
    p = p * e + 0.3328184187412262f;
    p = p * e - 0.4999622404575348f;
    p = p * e + 0.999998927116394f;
    return p * e + 5.239402689483086e-09f;
}

/* One pixel's BCE from logit z against target x, and its residual σ(z) − x in *residual:
 *   softplus(z) − x·z = max(z, 0) − x·z + log(1 + e),  σ(z) = 1/(1 + e) or e/(1 + e),  e = e^{−|z|}
 * (exact for any z; σ never underflows to a log of 0). Inlined into the vectorised loops below. */
static inline float bce_pixel(float z, float x, float *residual)
{
    float e = expf(-fabsf(z));
    float r = 1.0f / (1.0f + e);
    *residual = (z >= 0.0f ? r : e * r) - x;
    return (z > 0.0f ? z : 0.0f) - x * z + log1p_unit(e);
}

/* Output layer, BCE from logits, per model m (docs/gradients.md, with a sigmoid output):
 *   loss[m] = Σ softplus(z) − x·z = Σ max(z, 0) − x·z + log(1 + e^{−|z|})     (exact for any z)
 *   grad    = (σ(z) − x) · scale            σ(z) = 1/(1 + e) or e/(1 + e), e = e^{−|z|}
 *   bias_grad[m] = Σ over the batch of grad (the output bias' gradient)
 *   sq[m]   = Σ (σ(z) − x)²  when sq is not NULL (the sweep's MSE)
 * z, grad: (models, rows, cols), z before the output bias (models, cols) is added, which happens here;
 * x: (rows, cols), the same target for every model. */
void aelab_bce_output(const float *restrict z, const float *restrict x, int64_t models, int64_t rows,
                      int64_t cols, const float *restrict bias, float scale, float *restrict grad,
                      float *restrict bias_grad, double *restrict loss, double *restrict sq)
{
    for (int64_t m = 0; m < models; m++) {
        const float *restrict b = bias + m * cols;
        float *restrict bg = bias_grad + m * cols;
        double total = 0.0, total_sq = 0.0;
        for (int64_t j = 0; j < cols; j++) bg[j] = 0.0f;
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict zr = z + (m * rows + i) * cols;
            const float *restrict xr = x + i * cols;
            float *restrict gr = grad + (m * rows + i) * cols;
            float row = 0.0f, row_sq = 0.0f;
            for (int64_t j = 0; j < cols; j++) {
                float d;
                row += bce_pixel(zr[j] + b[j], xr[j], &d);
                row_sq += d * d;
                gr[j] = d * scale;
                bg[j] += d * scale;
            }
            total += row;
            total_sq += row_sq;
        }
        loss[m] = total;
        if (sq) sq[m] = total_sq;
    }
}

/* The same loss without a gradient, for evaluation: per model m, loss[m] = Σ BCE of logits z + bias
 * against x and, when sq is not NULL, sq[m] = Σ (σ(z) − x)². Shapes as in aelab_bce_output. */
void aelab_bce_sums(const float *restrict z, const float *restrict x, const float *restrict bias, int64_t models,
                    int64_t rows, int64_t cols, double *restrict loss, double *restrict sq)
{
    for (int64_t m = 0; m < models; m++) {
        const float *restrict b = bias + m * cols;
        double total = 0.0, total_sq = 0.0;
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict zr = z + (m * rows + i) * cols, *restrict xr = x + i * cols;
            float row = 0.0f, row_sq = 0.0f;
            for (int64_t j = 0; j < cols; j++) {
                float d;
                row += bce_pixel(zr[j] + b[j], xr[j], &d);
                row_sq += d * d;
            }
            total += row;
            total_sq += row_sq;
        }
        loss[m] = total;
        if (sq) sq[m] = total_sq;
    }
}

/* Σ BCE of probabilities p (rows, cols), clipped into [clip, 1 − clip], against x: the loss of a
 * reconstruction that is not a sigmoid's output (PCA's), −Σ x·log p + (1 − x)·log(1 − p).
 * 1 − p is clipped on its own (rather than computing 1 − clip(p)), because 1 − 1e-7 rounds in float32
 * and log(1 − that) would be log(1.19e-7), not log(1e-7). */
double aelab_bce_probabilities(const float *restrict p, const float *restrict x, int64_t rows, int64_t cols, float clip)
{
    double total = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict pr = p + i * cols, *restrict xr = x + i * cols;
        float row = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float q = pr[j] > 1.0f ? 1.0f : pr[j], c = 1.0f - pr[j];
            q = q < clip ? clip : q;
            c = c > 1.0f ? 1.0f : (c < clip ? clip : c);
            row -= xr[j] * logf(q) + (1.0f - xr[j]) * logf(c);
        }
        total += row;
    }
    return total;
}

/* Hidden layer, forward: h ← max(h + bias, 0) in place, for `rows` rows of `cols` values whose
 * starts are `ld` apart (ld = cols for a whole matrix; larger for a block of columns, such as one
 * group of models' share of a sweep's first layer). Returns Σ h: the L1 term of a sparse code. */
static double bias_relu_rows(float *h, const float *restrict bias, int64_t rows, int64_t cols, int64_t ld)
{
    double total = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        float *restrict hr = h + i * ld;
        float row = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float v = hr[j] + bias[j];
            v = v > 0.0f ? v : 0.0f;
            hr[j] = v;
            row += v;
        }
        total += row;
    }
    return total;
}

/* The same after the product h = h_below · Wᵀ, for each of `models` stacked matrices
 * (h: (models, rows, cols), bias: (models, cols)); returns Σ h over all of them. */
double aelab_bias_relu(float *restrict h, const float *restrict bias, int64_t models, int64_t rows, int64_t cols)
{
    double total = 0.0;
    for (int64_t m = 0; m < models; m++)
        total += bias_relu_rows(h + m * rows * cols, bias + m * cols, rows, cols, cols);
    return total;
}

/* Hidden layer, backward through the ReLU (docs/gradients.md (G5)), in place, rows `ld` apart as above:
 *   g ← (g + add) · [h > 0]          add: the L1 term's ∂(w·Σ|h|)/∂h = w on the code (h ≥ 0), else 0
 *   bias_grad = Σ over the rows (the batch) of g */
static void relu_backward_rows(float *g, const float *h, int64_t rows, int64_t cols, int64_t ld, float add,
                               float *restrict bias_grad)
{
    for (int64_t j = 0; j < cols; j++) bias_grad[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        float *restrict gr = g + i * ld;
        const float *restrict hr = h + i * ld;
        for (int64_t j = 0; j < cols; j++) {
            float v = hr[j] > 0.0f ? gr[j] + add : 0.0f;
            gr[j] = v;
            bias_grad[j] += v;
        }
    }
}

/* The same for each of `models` stacked matrices: g, h (models, rows, cols); bias_grad (models, cols). */
void aelab_relu_backward(float *restrict g, const float *restrict h, int64_t models, int64_t rows, int64_t cols,
                         float add, float *restrict bias_grad)
{
    for (int64_t m = 0; m < models; m++)
        relu_backward_rows(g + m * rows * cols, h + m * rows * cols, rows, cols, cols, add, bias_grad + m * cols);
}

/* Adam over the segments [start, start + length) of one flat buffer, in one pass, with
 * torch.optim.Adam's formulas (so checkpoints and the autograd reference agree):
 *   m ← m + (1 − β1)(g − m);  v ← β2·v + (1 − β2)·g²;  p ← p − step_size · m / (√v / bc2_sqrt + ε),
 *   step_size = lr / (1 − β1ᵗ),  bc2_sqrt = √(1 − β2ᵗ).
 * A single thread passes one segment, the whole buffer; two threads each pass half of it. */
void aelab_adam(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                const int64_t *restrict starts, const int64_t *restrict lengths, int64_t segments,
                float beta1, float beta2, float eps, float step_size, float bc2_sqrt)
{
    const float inv_bc2_sqrt = 1.0f / bc2_sqrt;
    for (int64_t s = 0; s < segments; s++) {
        const int64_t end = starts[s] + lengths[s];
        for (int64_t j = starts[s]; j < end; j++) {
            float gj = g[j];
            float mj = m[j] + (1.0f - beta1) * (gj - m[j]);
            float vj = beta2 * v[j] + (1.0f - beta2) * gj * gj;
            m[j] = mj;
            v[j] = vj;
            p[j] -= step_size * mj / (sqrtf(vj) * inv_bc2_sqrt + eps);
        }
    }
}

/* ---- A whole training step in one call --------------------------------------------------------
 * The kernels above, called from Python between PyTorch's products, leave ~25 Python-level calls
 * per step: a shallow step took 204 µs that way and takes 158 µs as one call (measured in a loop). The
 * function below runs the whole step here, with the products done by the BLAS that PyTorch itself
 * uses (MKL's sgemm_, whose address Python hands over: aelab_set_sgemm), so the arithmetic is the
 * same and one ctypes call remains. */

typedef void (*sgemm_t)(const char *, const char *, const int *, const int *, const int *, const float *,
                        const float *, const int *, const float *, const int *, const float *, float *, const int *);
static sgemm_t sgemm_fn = 0;
typedef int (*threads_t)(int);
static threads_t local_threads_fn = 0;  /* MKL's MKL_Set_Num_Threads_Local: the BLAS threads of the calling thread */

void aelab_set_sgemm(void *fn, void *threads_fn) { sgemm_fn = (sgemm_t) fn; local_threads_fn = (threads_t) threads_fn; }

/* The products that follow, on this thread, use `n` BLAS threads (0: back to the process-wide setting). */
static void blas_threads(int n) { if (local_threads_fn) local_threads_fn(n); }

/* Row-major C (m × n) = op(A) · op(B), where A, B are row-major with row strides lda, ldb and op
 * transposes when asked. A row-major matrix is its transpose in column-major order, so this is the
 * column-major product Cᵀ = op(B)ᵀ · op(A)ᵀ: the Fortran call with the operands swapped. */
static void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc)
{
    const char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
    const float one = 1.0f, zero = 0.0f;
    sgemm_fn(&ta, &tb, &n, &m, &k, &one, b, &ldb, a, &lda, &zero, c, &ldc);
}

/* One training step of a dense autoencoder with `layers` Linear layers (widths[0] → … → widths[layers]),
 * ReLU between them, BCE from logits at the output, optional L1 on layer `code_layer`'s output, and
 * Adam over the one flat buffer that holds every parameter (docs/gradients.md, (G1)–(G8), batched):
 *   weights[0] is the first layer stored transposed, (n_in, n_out); the others (n_out, n_in);
 *   acts[i] (batch, widths[i+1]) receive the layers' outputs (the last: logits before the bias);
 *   grads[i] (batch, widths[i+1]) receive ∂loss/∂(layer i's pre-activation);
 *   weight_grads[i], bias_grads[i]: views of `grad`, in the weights' layouts.
 * Returns Σ BCE over the batch (the caller divides); *code_sum receives Σ of the code layer's output. */
double aelab_dense_step(int64_t layers, const int64_t *widths, int64_t batch, const float *x, const float *target,
                        float *const *weights, float *const *biases, float *const *weight_grads,
                        float *const *bias_grads, float *const *acts, float *const *grads,
                        int64_t code_layer, float l1_add, double *code_sum,
                        float *flat, float *grad, float *exp_avg, float *exp_avg_sq, const int64_t *starts,
                        const int64_t *lengths, int64_t segments, float beta1, float beta2, float eps,
                        float step_size, float bc2_sqrt)
{
    const int b = (int) batch;
    const int64_t last = layers - 1;
    double loss = 0.0;
    *code_sum = 0.0;
    for (int64_t i = 0; i < layers; i++) {  /* forward: h_i = relu(h_{i−1} W_iᵀ + b_i); logits last */
        const int n_in = (int) widths[i], n_out = (int) widths[i + 1];
        const float *below = i == 0 ? x : acts[i - 1];
        if (i == 0)
            gemm(0, 0, b, n_out, n_in, below, n_in, weights[0], n_out, acts[0], n_out);
        else
            gemm(0, 1, b, n_out, n_in, below, n_in, weights[i], n_in, acts[i], n_out);
        if (i < last) {
            double s = aelab_bias_relu(acts[i], biases[i], 1, batch, n_out);
            if (i == code_layer) *code_sum = s;
        }
    }
    const int64_t n_pixels = widths[layers];
    aelab_bce_output(acts[last], target, 1, batch, n_pixels, biases[last], 1.0f / (float) (batch * n_pixels),
                     grads[last], bias_grads[last], &loss, 0);
    for (int64_t i = last; i >= 1; i--) {  /* backward, from the output down to layer 1 */
        const int n_in = (int) widths[i], n_out = (int) widths[i + 1];
        gemm(1, 0, n_out, n_in, b, grads[i], n_out, acts[i - 1], n_in, weight_grads[i], n_in);  /* ∂W_i = gᵀ h_{i−1} */
        gemm(0, 0, b, n_in, n_out, grads[i], n_out, weights[i], n_in, grads[i - 1], n_in);      /* ∂h_{i−1} = g W_i */
        aelab_relu_backward(grads[i - 1], acts[i - 1], 1, batch, n_in, i - 1 == code_layer ? l1_add : 0.0f,
                            bias_grads[i - 1]);
    }
    gemm(1, 0, (int) widths[0], (int) widths[1], b, x, (int) widths[0], grads[0], (int) widths[1], weight_grads[0],
         (int) widths[1]);  /* the first layer, stored (n_in, n_out): xᵀ g */
    aelab_adam(flat, grad, exp_avg, exp_avg_sq, starts, lengths, segments, beta1, beta2, eps, step_size, bc2_sqrt);
    return loss;
}

/* Forward and backward of models first … end − 1 of a sweep: `models` dense autoencoders of `layers`
 * layers each, sharing the input. The first layers of all models form one (n_in, total) weight
 * block whose output `first` (b, total) holds model m's units in columns [column[m], column[m] +
 * width); the later layers are per model. Per model m and layer i ≥ 1 (index m·layers + i):
 * weights (n_out, n_in), biases, their gradients, the layer's output `acts` and ∂loss/∂pre-activation
 * `grads` (b, n_out); widths[m·(layers + 1) + i] are model m's layer widths. The last layer's outputs
 * of all models are one (models, b, D) array, their biases (and bias gradients) one (models, D) array,
 * so the loss of a group of models is one pass: loss[m], sq[m] receive Σ BCE and Σ (σ − x)².
 * Groups of models touch disjoint memory, so two groups can run at once on two threads. Each
 * group's products run on one BLAS thread: a thread that is not PyTorch's own would otherwise get
 * MKL's default of every core, and two groups would fight over them (measured: 4.6 s per sweep epoch
 * instead of 3.1 s). Adam is left to the caller (aelab_adam). */
void aelab_sweep_part(int64_t first_model, int64_t end_model, int64_t layers, const int64_t *widths,
                      const int64_t *column, int64_t total, int64_t batch, const float *x, const float *target,
                      const float *first_weight, const float *first_bias, float *first_weight_grad,
                      float *first_bias_grad, float *first, float *first_grad, float *const *weights,
                      float *const *weight_grads, float *const *biases, float *const *bias_grads,
                      float *const *acts, float *const *grads, double *loss, double *sq)
{
    const int b = (int) batch, n_in = (int) widths[0], t = (int) total;
    const int64_t last = layers - 1, n_pixels = widths[layers];
    const int64_t c0 = column[first_model];
    const int cols = (int) (column[end_model - 1] + widths[(end_model - 1) * (layers + 1) + 1] - c0);
    blas_threads(1);
    gemm(0, 0, b, cols, n_in, x, n_in, first_weight + c0, t, first + c0, t);  /* the group's first layers at once */
    bias_relu_rows(first + c0, first_bias + c0, batch, cols, total);
    for (int64_t m = first_model; m < end_model; m++) {  /* forward, per model: h_i = relu(h_{i−1} W_iᵀ + b_i) */
        const int64_t *w = widths + m * (layers + 1);
        for (int64_t i = 1; i < layers; i++) {
            const int in = (int) w[i], out = (int) w[i + 1];
            const float *below = i == 1 ? first + column[m] : acts[m * layers + i - 1];
            gemm(0, 1, b, out, in, below, i == 1 ? t : in, weights[m * layers + i], in, acts[m * layers + i], out);
            if (i < last) aelab_bias_relu(acts[m * layers + i], biases[m * layers + i], 1, batch, out);
        }
    }
    const int64_t k = first_model * layers + last;  /* the group's logits, biases, gradients: stacked from here */
    aelab_bce_output(acts[k], target, end_model - first_model, batch, n_pixels, biases[k],
                     1.0f / (float) (batch * n_pixels), grads[k], bias_grads[k], loss + first_model, sq + first_model);
    for (int64_t m = first_model; m < end_model; m++) {  /* backward, per model, down to its first-layer columns */
        const int64_t *w = widths + m * (layers + 1);
        for (int64_t i = last; i >= 1; i--) {
            const int in = (int) w[i], out = (int) w[i + 1];
            const int64_t j = m * layers + i;
            const float *below = i == 1 ? first + column[m] : acts[j - 1];
            const int ld_below = i == 1 ? t : in;
            float *g_below = i == 1 ? first_grad + column[m] : grads[j - 1];
            gemm(1, 0, out, in, b, grads[j], out, below, ld_below, weight_grads[j], in);  /* ∂W_i = gᵀ h_{i−1} */
            gemm(0, 0, b, in, out, grads[j], out, weights[j], in, g_below, ld_below);      /* ∂h_{i−1} = g W_i */
            if (i > 1) aelab_relu_backward(grads[j - 1], acts[j - 1], 1, batch, in, 0.0f, bias_grads[j - 1]);
        }
    }
    relu_backward_rows(first_grad + c0, first + c0, batch, cols, total, 0.0f, first_bias_grad + c0);
    gemm(1, 0, n_in, cols, b, x, n_in, first_grad + c0, t, first_weight_grad + c0, t);  /* xᵀ g, the group's columns */
    blas_threads(0);
}
