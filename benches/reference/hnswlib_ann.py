#!/usr/bin/env python3
"""The reference for `kindred bench ann`: hnswlib on the same fvecs/ivecs files.

Prints JSON lines in the same shape as `kindred bench ann` (cosine space, vectors normalized on
load, M and ef_construction as given, build on --threads threads, queries one at a time on one
thread). Needs `pip install hnswlib numpy`.

    python3 benches/reference/hnswlib_ann.py --base B.fvecs --query Q.fvecs --gt G.ivecs --ef 16,32,64
"""
import argparse
import json
import statistics
import time

import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype="<i4")
    dim = raw[0]
    rows = raw.reshape(-1, dim + 1)[:, 1:]
    return rows.view(dtype) if dtype != "<i4" else rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef", default="16,32,64,128,256")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import hnswlib

    base = np.ascontiguousarray(read_vecs(args.base, "<f4"), dtype=np.float32)
    queries = np.ascontiguousarray(read_vecs(args.query, "<f4"), dtype=np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    gt = read_vecs(args.gt, "<i4")[:, : args.k]
    index = hnswlib.Index(space="cosine", dim=base.shape[1])
    start = time.perf_counter()
    index.init_index(max_elements=len(base), M=args.m, ef_construction=args.ef_construction)
    index.set_num_threads(args.threads)
    index.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - start
    print(json.dumps({"bench": "ann", "runtime": "hnswlib", "phase": "build", "base": len(base),
                      "dim": base.shape[1], "m": args.m, "ef_construction": args.ef_construction,
                      "build_seconds": build, "inserts_per_s": len(base) / build}))
    index.set_num_threads(1)
    for ef in [int(x) for x in args.ef.split(",")]:
        index.set_ef(ef)
        found, seconds = 0, []
        for run in range(args.runs):
            start = time.perf_counter()
            for i in range(len(queries)):
                labels, _ = index.knn_query(queries[i : i + 1], k=args.k)
                if run == 0:
                    found += len(set(labels[0].tolist()) & set(gt[i].tolist()))
            seconds.append(time.perf_counter() - start)
        qps = len(queries) / statistics.median(seconds)
        print(json.dumps({"bench": "ann", "runtime": "hnswlib", "phase": "search", "ef": ef, "k": args.k,
                          "queries": len(queries), "recall": found / (len(queries) * args.k), "qps": qps,
                          "threads": 1}))


if __name__ == "__main__":
    main()
