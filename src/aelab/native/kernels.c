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
 * elementwise pass (one per pixel per model), and this log was half of it. */
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
                float zj = zr[j] + b[j], xj = xr[j];
                float e = expf(-fabsf(zj));
                float r = 1.0f / (1.0f + e);
                float d = (zj >= 0.0f ? r : e * r) - xj;
                row += (zj > 0.0f ? zj : 0.0f) - xj * zj + log1p_unit(e);
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
                float zj = zr[j] + b[j], xj = xr[j];
                float e = expf(-fabsf(zj));
                float r = 1.0f / (1.0f + e);
                float d = (zj >= 0.0f ? r : e * r) - xj;
                row += (zj > 0.0f ? zj : 0.0f) - xj * zj + log1p_unit(e);
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

/* Hidden layer, forward: h ← max(h + bias, 0) in place (h: (models, rows, cols), bias: (models, cols)),
 * after the product h = h_below · Wᵀ. Returns Σ h (all models): the L1 term of a sparse code. */
double aelab_bias_relu(float *restrict h, const float *restrict bias, int64_t models, int64_t rows, int64_t cols)
{
    double total = 0.0;
    for (int64_t m = 0; m < models; m++) {
        const float *restrict b = bias + m * cols;
        for (int64_t i = 0; i < rows; i++) {
            float *restrict hr = h + (m * rows + i) * cols;
            float row = 0.0f;
            for (int64_t j = 0; j < cols; j++) {
                float v = hr[j] + b[j];
                v = v > 0.0f ? v : 0.0f;
                hr[j] = v;
                row += v;
            }
            total += row;
        }
    }
    return total;
}

/* Hidden layer, backward through the ReLU (docs/gradients.md (G5)), in place:
 *   g ← (g + add) · [h > 0]          add: the L1 term's ∂(w·Σ|h|)/∂h = w on the code (h ≥ 0), else 0
 *   bias_grad[m] = Σ over the batch of g
 * g, h: (models, rows, cols); bias_grad: (models, cols). */
void aelab_relu_backward(float *restrict g, const float *restrict h, int64_t models, int64_t rows, int64_t cols,
                         float add, float *restrict bias_grad)
{
    for (int64_t m = 0; m < models; m++) {
        float *restrict bg = bias_grad + m * cols;
        for (int64_t j = 0; j < cols; j++) bg[j] = 0.0f;
        for (int64_t i = 0; i < rows; i++) {
            float *restrict gr = g + (m * rows + i) * cols;
            const float *restrict hr = h + (m * rows + i) * cols;
            for (int64_t j = 0; j < cols; j++) {
                float v = hr[j] > 0.0f ? gr[j] + add : 0.0f;
                gr[j] = v;
                bg[j] += v;
            }
        }
    }
}

/* Adam over the segments [start, start + length) of one flat buffer, in one pass, with
 * torch.optim.Adam's formulas (so checkpoints and the autograd reference agree):
 *   m ← m + (1 − β1)(g − m);  v ← β2·v + (1 − β2)·g²;  p ← p − step_size · m / (√v / bc2_sqrt + ε),
 *   step_size = lr / (1 − β1ᵗ),  bc2_sqrt = √(1 − β2ᵗ).
 * A single model passes one segment, the whole buffer. A padded sweep passes only its real entries:
 * padding has zero gradients and stays at zero either way, so skipping it changes nothing but the
 * time (a sweep's Adam is memory-bound, and padding is nearly half of its buffer). */
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
