#!/usr/bin/env python3
"""Retrieval quality: nDCG@10 and Recall@100, as BEIR defines them, from a qrels file and the
output of `kindred query --jsonl ... --per-doc`.

    python3 eval/beir_eval.py --qrels qrels.tsv --run run.jsonl

qrels: TSV with a header, columns query-id, corpus-id, score (graded; 0 is not relevant).
run: one JSON object per line, {"query_id", "hits": [{"id", "score"}, ...]}, hits best first.
nDCG uses the graded score as the gain with a log2 rank discount (trec_eval's ndcg_cut);
Recall@100 counts the documents with score > 0. Only queries that have judgements are averaged.
No dependencies beyond the standard library.
"""
import argparse
import json
import math
from collections import defaultdict


def load_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            if not line.strip():
                continue
            qid, did, score = line.rstrip("\n").split("\t")[:3]
            qrels[qid][did] = int(score)
    return qrels


def load_run(path):
    run = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                run[str(obj["query_id"])] = [str(h["id"]) for h in obj["hits"]]
    return run


def ndcg_at(ranked, judged, k):
    dcg = sum(judged.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked, judged, k):
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qrels", required=True)
    p.add_argument("--run", required=True)
    args = p.parse_args()
    qrels, run = load_qrels(args.qrels), load_run(args.run)
    queries = [q for q, judged in qrels.items() if any(g > 0 for g in judged.values())]
    ndcg = sum(ndcg_at(run.get(q, []), qrels[q], 10) for q in queries) / len(queries)
    recall = sum(recall_at(run.get(q, []), qrels[q], 100) for q in queries) / len(queries)
    missing = sum(1 for q in queries if q not in run)
    print(json.dumps({"queries": len(queries), "missing_runs": missing,
                      "ndcg@10": round(ndcg, 5), "recall@100": round(recall, 5)}))


if __name__ == "__main__":
    main()
