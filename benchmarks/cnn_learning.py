"""Issue 14 (H10): does the cnn learn sphaleron vs black hole? Usage:
PYTHONPATH=src python benchmarks/cnn_learning.py '{"epochs": 20, "patience": 6}' 2000 [cache-dir]
(first arg: cnn params as JSON; second: events per sample; 60/20/20 split, seed 42).
Prints a logistic-regression baseline on the log channel sums, the per-epoch history and
the held-out AUC / accuracy / mean score / fraction of scores above 0.5."""
import json, sys, time
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.linear_model import LogisticRegression
import hepsift.models as models

d = (sys.argv[3] if len(sys.argv) > 3 else "/tmp/cnnwork/cache/multijet-bsm-42-2000").rstrip("/") + "/"
def load(n_per, seed=42):
    ims, ys = [], []
    for lab, s in enumerate(["black-hole", "sphaleron"]):
        z = np.load(d + s + ".images.npz")["images"][:n_per]
        ims.append(z); ys.append(np.full(len(z), lab))
    im = np.concatenate(ims); y = np.concatenate(ys)
    rng = np.random.default_rng(seed); p = rng.permutation(len(y))
    return im[p], y[p]

def main():
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    n_per = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    im, y = load(n_per)
    n = len(y); a, b = int(0.6 * n), int(0.8 * n)
    tr, va, te = slice(0, a), slice(a, b), slice(b, n)
    # baseline: logistic regression on log total energy per channel
    s = np.log(im.astype(np.float32).sum(axis=(2, 3)) + 1)
    lr = LogisticRegression().fit(s[tr], y[tr])
    print("baseline logreg(log channel sums) test AUC %.3f" % roc_auc_score(y[te], lr.predict_proba(s[te])[:, 1]))
    X = np.zeros((n, 0))
    p = {"num_threads": 2, **params}
    m = models.create("cnn", **p)
    t0 = time.time()
    m.fit(X[tr], y[tr], images=im[tr], eval_set=(X[va], y[va]), eval_images=im[va])
    dt = time.time() - t0
    h = m.history_
    ptr = m.predict_proba(X[tr], images=im[tr])[:, 1]
    pte = m.predict_proba(X[te], images=im[te])[:, 1]
    print("params", p, "n_train", a)
    for k in ("train_loss","val_loss","train_auc","val_auc","lr"):
        print(" ", k, [round(float(x), 4) for x in getattr(h, k)][:40])
    print("fit %.0fs  train AUC %.3f  test AUC %.3f  test acc %.3f  mean p test %.3f  frac>0.5 %.2f" % (
        dt, roc_auc_score(y[tr], ptr), roc_auc_score(y[te], pte), np.mean((pte > 0.5) == y[te]), pte.mean(), (pte > 0.5).mean()))

main()
