#!/usr/bin/env python3
"""The reference for `kindred bench viz`: umap-learn, openTSNE (or scikit-learn's TSNE) and
scikit-learn's PCA on the same fvecs file.

Prints one JSON line per method in the same shape as `kindred bench viz`, so the two can be
compared as a ratio measured in the same session:

- median_seconds: the median over runs (seeds 1..=R, PCA once) of the fit alone, from the
  vectors in memory to the 2-D layout, the library's own k-NN graph included. Before the timed
  runs each method is fitted once on the first 5,000 vectors, untimed, so that numba's JIT
  compilation (umap-learn, and pynndescent's NN-descent, which umap-learn only uses from 4,096
  points on) is not counted.
- knn_preservation: the share of each point's k nearest neighbours by Euclidean distance in the
  full vectors that are also among its k nearest in the layout, averaged over points; the median
  over runs. Exact brute force with numpy, outside the timed part, as kindred measures it.
- consistency (R > 1): for every pair of runs, the same share between the two layouts,
  averaged over points and pairs.

Settings follow kindred's: UMAP n_neighbors 15, min_dist 0.1, euclidean, 500 epochs below
10,000 points (umap-learn's own rule), started from PCA as kindred does (`--umap-init spectral`
for umap-learn's default); a random_state per seed, which makes umap-learn run its descent on one
thread as kindred's is (`--umap-unseeded` for its parallel, unreproducible mode). t-SNE:
perplexity 30, Barnes-Hut (theta 0.5), 250 iterations of early exaggeration 12 then 500, started
from a small random layout as kindred does (`--tsne-init pca` for openTSNE's default). Threads are
pinned with --threads before numpy is imported (OMP, OpenBLAS, MKL, numba) and given to
openTSNE's n_jobs. Needs `pip install umap-learn openTSNE scikit-learn numpy`.

    python3 benches/reference/viz_reference.py --fvecs /tmp/ann/base.fvecs --limit 10000 \
        --method tsne,umap,pca --runs 3 --threads 2
"""
import argparse
import json
import os
import statistics
import time


def read_fvecs(path, np):
    raw = np.fromfile(path, dtype="<i4")
    dim = raw[0]
    return raw.reshape(-1, dim + 1)[:, 1:].view("<f4")


def exact_knn(x, k, np, block=1024):
    """Each row's k nearest other rows by Euclidean distance, brute force."""
    x = np.ascontiguousarray(x, dtype=np.float64 if x.shape[1] <= 3 else np.float32)
    norms = (x * x).sum(axis=1)
    out = np.empty((len(x), k), dtype=np.int64)
    for first in range(0, len(x), block):
        rows = x[first : first + block]
        d2 = norms[first : first + block, None] - 2.0 * rows @ x.T + norms[None, :]
        d2[np.arange(len(rows)), np.arange(first, first + len(rows))] = np.inf  # not itself
        part = np.argpartition(d2, k, axis=1)[:, :k]
        order = np.take_along_axis(d2, part, axis=1).argsort(axis=1)
        out[first : first + len(rows)] = np.take_along_axis(part, order, axis=1)
    return out


def overlap(a, b):
    """Mean over points of the share of a's neighbours that are among b's."""
    k = a.shape[1]
    return float(sum(len(set(x).intersection(y)) for x, y in zip(a, b)) / (k * len(a)))


def make_fit(method, args, threads):
    if method == "pca":
        from sklearn.decomposition import PCA

        return lambda x, seed: PCA(n_components=args.dims, random_state=seed).fit_transform(x)
    if method == "umap":
        import umap

        def fit(x, seed):
            kwargs = dict(n_neighbors=15, min_dist=0.1, metric="euclidean",
                          n_components=args.dims, init=args.umap_init)
            if args.umap_unseeded:
                kwargs["n_jobs"] = threads
            else:
                kwargs["random_state"] = seed
            return umap.UMAP(**kwargs).fit_transform(x)

        return fit
    if method == "tsne" and args.tsne_impl == "opentsne":
        from openTSNE import TSNE

        def fit(x, seed):
            model = TSNE(n_components=args.dims, perplexity=30, negative_gradient_method="bh",
                         theta=0.5, early_exaggeration_iter=250, early_exaggeration=12,
                         n_iter=500, initialization=args.tsne_init, n_jobs=threads,
                         random_state=seed)
            return np.asarray(model.fit(x))

        return fit
    if method == "tsne":
        from sklearn.manifold import TSNE

        def fit(x, seed):
            return TSNE(n_components=args.dims, perplexity=30, method="barnes_hut", angle=0.5,
                        early_exaggeration=12, max_iter=750, init=args.tsne_init,
                        random_state=seed).fit_transform(x)

        return fit
    raise SystemExit(f"unknown method {method!r}: pca, tsne, umap")


def runtime(method, args):
    from importlib.metadata import version

    if method == "umap":
        return f"umap-learn {version('umap-learn')}"
    if method == "tsne" and args.tsne_impl == "opentsne":
        return f"openTSNE {version('openTSNE')}"
    return f"scikit-learn {version('scikit-learn')}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fvecs", required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--method", default="pca,tsne,umap")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dims", type=int, default=2)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tsne-impl", choices=["opentsne", "sklearn"], default="opentsne")
    p.add_argument("--tsne-init", choices=["random", "pca"], default="random")
    p.add_argument("--umap-init", choices=["pca", "spectral", "random"], default="pca")
    p.add_argument("--umap-unseeded", action="store_true")
    args = p.parse_args()
    threads = str(args.threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = threads
    global np
    import numpy as np

    x = np.ascontiguousarray(read_fvecs(args.fvecs, np)[: args.limit], dtype=np.float32)
    full = exact_knn(x, args.k, np)
    for method in args.method.split(","):
        fit = make_fit(method, args, args.threads)
        fit(x[:5000], 0)  # warm-up: numba's JIT compiles here, untimed (NN-descent from 4,096)
        runs = 1 if method == "pca" else args.runs
        seconds, layouts = [], []
        for seed in range(1, runs + 1):
            start = time.perf_counter()
            layout = fit(x, seed)
            seconds.append(time.perf_counter() - start)
            layouts.append(exact_knn(np.asarray(layout), args.k, np))
        preserved = [overlap(full, g) for g in layouts]
        pairs = [overlap(layouts[a], layouts[b])
                 for a in range(runs) for b in range(a + 1, runs)]
        print(json.dumps({
            "bench": "viz", "runtime": runtime(method, args), "method": method,
            "vectors": len(x), "dim": x.shape[1], "dims": args.dims, "runs": runs,
            "threads": args.threads, "median_seconds": statistics.median(seconds),
            "seconds": seconds, "knn_preservation": statistics.median(preserved),
            "k": args.k, "chance": args.k / (len(x) - 1),
            "consistency": statistics.mean(pairs) if pairs else None,
        }), flush=True)


if __name__ == "__main__":
    main()
