#!/usr/bin/env python3
"""The reference for `kindred bench embed`: sentence-transformers on the same texts.

Prints one JSON line in the same shape as `kindred bench embed`, so the two can be compared as a
ratio measured in the same session. Needs `pip install sentence-transformers` and the model folder
(kindred's cache holds one: `kindred model info` prints where).

    python3 benches/reference/st_embed.py --model-dir DIR --jsonl FILE --batch 32 --threads 2
"""
import argparse
import json
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    with open(args.jsonl, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    texts = texts[: args.limit] if args.limit else texts
    model = SentenceTransformer(args.model_dir, device="cpu")
    tokens = int(model.tokenize(texts)["attention_mask"].sum())  # real tokens, padding excluded
    model.encode(texts[: args.batch], batch_size=args.batch)  # warm-up
    seconds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        model.encode(texts, batch_size=args.batch, normalize_embeddings=True)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(json.dumps({
        "bench": "embed", "runtime": "sentence-transformers", "texts": len(texts), "tokens": tokens,
        "batch": args.batch, "threads": args.threads, "runs": args.runs, "median_seconds": median,
        "texts_per_s": len(texts) / median, "tokens_per_s": tokens / median,
    }))


if __name__ == "__main__":
    main()
