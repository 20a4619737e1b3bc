//! Parity with sentence-transformers on the 61 golden texts: token ids, vectors one at a time
//! and in padded batches, and mean pooling before normalization.

use kindred::{EmbedOptions, Embedder, Pooling};

use crate::util::{cosine, default_model, embedder, load, norm, sre_model, Golden};

const MIN_COSINE: f64 = 0.99999;

fn assert_close(model: &str, what: &str, got: &[Vec<f32>], want: &[Vec<f32>]) {
    assert_eq!(got.len(), want.len(), "{model} {what}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{model} {what}: text {i} dimension");
        let c = cosine(g, w);
        assert!(c >= MIN_COSINE, "{model} {what}: text {i} cosine {c} < {MIN_COSINE}");
        let max_diff = g.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let scale = norm(w).max(1.0);
        assert!(max_diff <= 1e-4 * scale, "{model} {what}: text {i} max abs diff {max_diff}");
    }
}

fn check_model(name: &str, model: &kindred::ResolvedModel) {
    let golden = Golden::load(name);
    let texts = golden.text_refs();

    // One at a time, as the golden files were made.
    let single = load(model, EmbedOptions { batch_size: 1, ..EmbedOptions::default() });
    assert_eq!(single.token_ids(&texts).unwrap(), golden.tokens, "{name}: token ids");
    let one_by_one: Vec<Vec<f32>> = texts.iter().map(|t| single.embed_one(t).unwrap()).collect();
    assert_close(name, "one at a time", &one_by_one, &golden.embeddings);

    // All 61 together: sorted by length into padded batches of 32, then one batch of all 61.
    for batch_size in [32, 64] {
        let batched = load(model, EmbedOptions { batch_size, ..EmbedOptions::default() });
        let what = format!("batches of {batch_size}");
        assert_close(name, &what, &batched.embed(&texts).unwrap(), &golden.embeddings);
    }

    // Mean pooling without normalization.
    let raw = load(model, EmbedOptions { normalize: Some(false), ..EmbedOptions::default() });
    assert_close(name, "mean pooled", &raw.embed(&texts).unwrap(), &golden.mean_pooled);
}

#[test]
fn all_minilm_l6_v2_matches_sentence_transformers() {
    check_model("all-MiniLM-L6-v2", default_model());
}

#[test]
fn sre_embedding_model_matches_sentence_transformers() {
    check_model("sre-embedding-model", sre_model());
}

#[test]
fn the_default_embedder_reads_its_settings_from_the_model_folder() {
    let fp = embedder().fingerprint();
    assert_eq!(fp.model_id, "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(fp.revision.as_deref(), Some("1110a243fdf4706b3f48f1d95db1a4f5529b4d41"));
    assert_eq!(
        fp.weights_sha256,
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    );
    assert_eq!((fp.dimension, fp.pooling, fp.normalize), (384, Pooling::Mean, true));
    assert_eq!((fp.max_seq_length, fp.truncate_dim), (256, None));
}

#[test]
fn long_texts_are_truncated_at_max_seq_length_not_at_the_tokenizer_files_128() {
    let golden = Golden::load("all-MiniLM-L6-v2");
    let ids = embedder().token_ids(&[&golden.texts[59], &golden.texts[60]]).unwrap();
    assert_eq!(ids.iter().map(Vec::len).collect::<Vec<_>>(), vec![256, 256]);
    let short = embedder().token_ids(&["cat"]).unwrap();
    assert_eq!(short[0].len(), 3, "no fixed padding: [CLS] cat [SEP]");
}

#[test]
fn empty_and_whitespace_texts_embed_to_the_same_valid_vector() {
    let v = embedder().embed(&["", "   \t\n", "text"]).unwrap();
    assert!((norm(&v[0]) - 1.0).abs() < 1e-5);
    assert_eq!(v[0], v[1]);
    assert!(cosine(&v[0], &v[2]) < 0.99);
}

#[test]
fn matryoshka_truncation_keeps_the_prefix_renormalized() {
    let golden = Golden::load("all-MiniLM-L6-v2");
    let short =
        load(default_model(), EmbedOptions { truncate_dim: Some(128), ..EmbedOptions::default() });
    assert_eq!(short.dimension(), 128);
    assert_eq!(short.fingerprint().truncate_dim, Some(128));
    let got = short.embed(&golden.text_refs()[..12]).unwrap();
    for (g, full) in got.iter().zip(&golden.embeddings) {
        let mut want = full[..128].to_vec();
        kindred::l2_normalize(&mut want);
        assert!(cosine(g, &want) >= MIN_COSINE);
        assert!((norm(g) - 1.0).abs() < 1e-5);
    }
    let too_big = EmbedOptions { truncate_dim: Some(385), ..EmbedOptions::default() };
    let err = kindred::BertEmbedder::load(default_model(), &too_big).unwrap_err().to_string();
    assert!(err.contains("385") && err.contains("384"), "{err}");
}

#[test]
fn pooling_can_be_overridden_and_changes_the_fingerprint() {
    let cls = load(
        default_model(),
        EmbedOptions { pooling: Some(Pooling::Cls), ..EmbedOptions::default() },
    );
    let fp = cls.fingerprint();
    assert_eq!(fp.pooling, Pooling::Cls);
    let diff = embedder().fingerprint().difference(fp).expect("fingerprints differ");
    assert!(diff.contains("pooling: mean vs cls"), "{diff}");
    let text = "Embeddings are amazing";
    let (c, m) = (cls.embed_one(text).unwrap(), embedder().embed_one(text).unwrap());
    assert!((norm(&c) - 1.0).abs() < 1e-5);
    assert!(cosine(&c, &m) < 0.999, "CLS pooling must not equal mean pooling");
}

#[test]
fn the_tutorials_topics_separate_cooking_from_programming() {
    let golden = Golden::load("all-MiniLM-L6-v2");
    let v = embedder().embed(&golden.text_refs()[1..11]).unwrap();
    let (mut min_within, mut max_cross) = (f64::MAX, f64::MIN);
    for i in 0..10 {
        for j in (i + 1)..10 {
            let c = cosine(&v[i], &v[j]);
            if (i < 5) == (j < 5) {
                min_within = min_within.min(c);
            } else {
                max_cross = max_cross.max(c);
            }
        }
    }
    assert!(min_within > max_cross, "within-topic min {min_within} <= cross-topic max {max_cross}");
}

#[test]
fn an_empty_token_sequence_is_an_error_not_a_panic() {
    let err = embedder().embed_token_ids(&[vec![101, 102], vec![]]).unwrap_err().to_string();
    assert!(err.contains("token sequence 1 is empty"), "{err}");
    let ok = embedder().embed_token_ids(&[vec![101, 102]]).unwrap();
    assert_eq!(ok[0], embedder().embed_one("").unwrap(), "[CLS] [SEP] is the empty text");
}
