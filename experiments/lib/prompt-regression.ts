/**
 * Diagnostics for the generator's prompts (experiments:specificity --predictor ridge|knnK): how much a
 * prompt says about its region's bank vector when nothing but a linear map or the nearest prompts are
 * used. If these cannot beat the bank mean on held-out regions, no generator conditioned on the same
 * prompts can be expected to.
 */

/** Standardise columns with the training rows' mean/std (constant columns -> 0). */
function standardise(train: Float32Array[], rows: Float32Array[]): { tr: Float64Array[]; te: Float64Array[] } {
  const d = train[0]!.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const r of train) for (let j = 0; j < d; j++) mean[j] += r[j]! / train.length;
  for (const r of train) for (let j = 0; j < d; j++) std[j] += (r[j]! - mean[j]!) ** 2 / train.length;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]!) > 1e-9 ? Math.sqrt(std[j]!) : Infinity;
  const f = (r: Float32Array) => Float64Array.from(r, (v, j) => (v - mean[j]!) / std[j]!);
  return { tr: train.map(f), te: rows.map(f) };
}

/** Solve (A) x = b for a symmetric positive definite A (Cholesky), in place of nothing. */
function cholSolve(A: Float64Array[], B: Float64Array[]): Float64Array[] {
  const n = A.length;
  const L = A.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i]![j]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      L[i]![j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j]![j]!;
    }
  }
  return B.map((b) => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = b[i]!;
      for (let k = 0; k < i; k++) s -= L[i]![k]! * y[k]!;
      y[i] = s / L[i]![i]!;
    }
    const x = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let k = i + 1; k < n; k++) s -= L[k]![i]! * x[k]!;
      x[i] = s / L[i]![i]!;
    }
    return x;
  });
}

/**
 * Ridge regression of the vectors on the standardised prompts, in the dual (kernel) form so the cost
 * is rows^2 not dims^2: prediction = mean + K_test (K + alpha I)^-1 (Y - mean). alpha is chosen from a
 * grid by 5-fold cross-validation of the vectors' squared error on the training rows.
 */
export function ridgePredict(trainX: Float32Array[], trainY: Float32Array[], testX: Float32Array[]): Float32Array[] {
  const { tr, te } = standardise(trainX, testX);
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, j) => s + v * b[j]!, 0);
  const fit = (rows: number[], alpha: number, query: Float64Array[]): Float32Array[] => {
    const P = trainY[0]!.length;
    const mean = new Float64Array(P);
    for (const i of rows) for (let p = 0; p < P; p++) mean[p] += trainY[i]![p]! / rows.length;
    const K = rows.map((i) => Float64Array.from(rows, (j) => dot(tr[i]!, tr[j]!) + (i === j ? alpha : 0)));
    const kq = query.map((q) => Float64Array.from(rows, (j) => dot(q, tr[j]!)));
    const w = cholSolve(K, kq); // each query's weights over the training rows (K symmetric)
    return w.map((wq) => {
      const out = Float32Array.from(mean);
      rows.forEach((j, r) => {
        const c = wq[r]!;
        if (c === 0) return;
        const y = trainY[j]!;
        for (let p = 0; p < P; p++) out[p] += c * (y[p]! - mean[p]!);
      });
      return out;
    });
  };
  const n = tr.length;
  const alphas = [1, 10, 100, 1000].map((a) => a * (tr[0]!.length / 10));
  let best = alphas[0]!;
  let bestErr = Infinity;
  for (const a of alphas) {
    let err = 0;
    for (let f = 0; f < 5; f++) {
      const test = Array.from({ length: n }, (_, i) => i).filter((i) => i % 5 === f);
      const train = Array.from({ length: n }, (_, i) => i).filter((i) => i % 5 !== f);
      const pred = fit(train, a, test.map((i) => tr[i]!));
      test.forEach((i, k) => trainY[i]!.forEach((v, p) => (err += (v - pred[k]![p]!) ** 2)));
    }
    if (err < bestErr) (bestErr = err), (best = a);
  }
  return fit(Array.from({ length: n }, (_, i) => i), best, te);
}

/** The mean vector of the k training rows whose prompts are nearest by cosine. */
export function knnPredict(trainX: Float32Array[], trainY: Float32Array[], testX: Float32Array[], k: number): Float32Array[] {
  const cos = (a: Float32Array, b: Float32Array) => {
    let ab = 0, aa = 0, bb = 0;
    for (let j = 0; j < a.length; j++) (ab += a[j]! * b[j]!), (aa += a[j]! * a[j]!), (bb += b[j]! * b[j]!);
    return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : -1;
  };
  return testX.map((q) => {
    const order = trainX.map((x, i) => [cos(q, x), i] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
    const out = new Float32Array(trainY[0]!.length);
    for (const [, i] of order) trainY[i]!.forEach((v, p) => (out[p] += v / order.length));
    return out;
  });
}
