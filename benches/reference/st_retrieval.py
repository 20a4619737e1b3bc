#!/usr/bin/env python3
"""The reference for retrieval quality: sentence-transformers with exact search on a BEIR-style
corpus, writing the same JSON lines as `kindred query --jsonl --per-doc`, so that
eval/beir_eval.py scores both the same way.

    python3 benches/reference/st_retrieval.py --model-dir DIR --corpus corpus.jsonl \
        --queries queries.jsonl --k 100 > st_run.jsonl

Documents are embedded as title + " " + text (text alone when the title is empty), as
`kindred index` does with JSON-lines records.
"""
import argparse
import json


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--k", type=int, default=100)
    args = p.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer

    docs = [json.loads(l) for l in open(args.corpus, encoding="utf-8") if l.strip()]
    queries = [json.loads(l) for l in open(args.queries, encoding="utf-8") if l.strip()]
    texts = []
    for d in docs:
        title, text = (d.get("title") or "").strip(), d["text"]
        texts.append(f"{title} {text}" if title and text.strip() else (title or text))
    model = SentenceTransformer(args.model_dir, device="cpu")
    doc_vecs = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_tensor=True)
    query_vecs = model.encode([q["text"] for q in queries], batch_size=32, normalize_embeddings=True,
                              convert_to_tensor=True)
    scores = query_vecs @ doc_vecs.T
    top = torch.topk(scores, k=min(args.k, len(docs)), dim=1)
    for q, values, indices in zip(queries, top.values.tolist(), top.indices.tolist()):
        hits = [{"id": str(docs[i]["id"]), "score": v} for v, i in zip(values, indices)]
        print(json.dumps({"query_id": q["id"], "hits": hits}))


if __name__ == "__main__":
    main()
