#!/usr/bin/env python3
"""Independent reference numbers for src/aits/ml/unsupervised_test.cc (k-means and PCA).

Usage:
  /usr/bin/python3 unsupervised_reference.py [--check-only]

Needs numpy and scikit-learn (Debian: apt-get install python3-numpy python3-sklearn). This is a
developer tool, not a CI dependency: its output is pasted into the C++ test as constants.

The fixed dataset (built identically by MakeReferenceData() in the C++ test): 300 rows x 6
columns named volatility_20, atr_14, momentum_10, price_change_5, rsi_14, volume_ratio. Row r
belongs to cluster r % 5 and column c holds

  x[r][c] = SCALE[c] * (CENTER[r % 5][c] + SPREAD[c] * noise(r, c))

  noise(r, c) = (a + b + d - 3 * 2^19) / 2^20, with h = splitmix64(6 * r + c) and
                a, b, d the three 20-bit fields h & 0xFFFFF, (h >> 20) & 0xFFFFF, (h >> 40) & 0xFFFFF

(an Irwin-Hall(3) variate in (-1.5, 1.5), standard deviation 0.5). Every constant is a dyadic
rational, so the double computation is exact in any language and the one rounding, to float32
(what aits::ml::Matrix holds), is the same everywhere. The clusters sit so far apart compared with
their spread (bounded noise) that the k-means optimum is the generating partition, and the
column spreads differ so that PCA's eigenvalues are distinct (components are well defined).

Printed (as C++ initialisers):
  * PCA (StandardScaler + PCA(svd_solver="full")): every explained variance ratio, every component
    with the sign convention of aits::ml::Pca (the largest-|loading| entry of each component is
    positive), and the number of components whose cumulative ratio first reaches 0.95.
  * k-means (StandardScaler + KMeans(n_clusters=5, n_init=10, random_state=0)): inertia, the label
    of every row and the cluster centres in standardized space.
  * The isolation forest's average path length c(n) for a few n (scikit-learn's
    _average_path_length, a private helper that implements the paper's formula).
"""

import argparse
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

ROWS = 300
COLS = 6
NAMES = ["volatility_20", "atr_14", "momentum_10", "price_change_5", "rsi_14", "volume_ratio"]
# Units of each column (powers of two, so scaling is exact): standardization has work to do.
SCALE = [2.0**-10, 2.0**-8, 2.0**-12, 2.0**-11, 8.0, 1.0]
# Noise amplitude per column, in units of the column's SCALE; distinct so eigenvalues separate.
SPREAD = [0.5, 0.375, 0.625, 0.25, 0.75, 0.4375]
# Cluster centres in units of SCALE: high volatility, low volatility, trending up, trending down,
# ranging (the row order is the generating cluster, r % 5).
CENTER = [
    [6.0, 5.5, 0.5, 0.0, 1.0, 3.0],
    [-5.0, -4.5, 0.0, 0.5, -1.0, -2.0],
    [0.5, 1.0, 6.0, 5.0, 7.0, 1.5],
    [1.0, 0.0, -6.0, -5.5, -6.0, 1.0],
    [0.0, 0.5, 0.0, -0.5, 0.0, -3.0],
]

MASK64 = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def noise(r, c):
    h = splitmix64(COLS * r + c)
    a = h & 0xFFFFF
    b = (h >> 20) & 0xFFFFF
    d = (h >> 40) & 0xFFFFF
    return float(a + b + d - 3 * (1 << 19)) / float(1 << 20)


def make_data():
    x = np.empty((ROWS, COLS), dtype=np.float32)
    for r in range(ROWS):
        for c in range(COLS):
            value = SCALE[c] * (CENTER[r % 5][c] + SPREAD[c] * noise(r, c))
            x[r, c] = np.float32(value)
    return x.astype(np.float64)


def sign_convention(components):
    out = components.copy()
    for i in range(out.shape[0]):
        j = int(np.argmax(np.abs(out[i])))  # first index on a tie, like the C++ code
        if out[i, j] < 0:
            out[i] = -out[i]
    return out


def fmt(v):
    return repr(float(v))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check-only", action="store_true",
                        help="only check the dataset's properties, print no constants")
    args = parser.parse_args()

    x = make_data()
    z = StandardScaler().fit_transform(x)

    pca = PCA(svd_solver="full").fit(z)
    ratios = pca.explained_variance_ratio_
    components = sign_convention(pca.components_)
    kept = int(np.searchsorted(np.cumsum(ratios), 0.95, side="left") + 1)

    km = KMeans(n_clusters=5, n_init=10, random_state=0).fit(z)
    truth = np.arange(ROWS) % 5
    # The generating partition must be sklearn's answer (up to relabelling), or the data is not
    # separated well enough to make the optimum unique.
    pairs = set(zip(km.labels_.tolist(), truth.tolist()))
    separated = len(pairs) == 5
    gaps = -np.diff(pca.explained_variance_)
    if args.check_only or not separated:
        print(f"partition matches generator: {separated}")
        print(f"eigenvalues: {pca.explained_variance_}")
        print(f"smallest eigenvalue gap: {gaps.min():.3g}")
        return 0 if separated else 1

    print(f"// Generated by tests/tools/unsupervised_reference.py with scikit-learn "
          f"{sklearn.__version__}, numpy {np.__version__}.")
    print("constexpr double kPcaRatios[] = {")
    print("    " + ", ".join(fmt(v) for v in ratios) + "};")
    print("constexpr double kPcaComponents[][6] = {")
    for row in components:
        print("    {" + ", ".join(fmt(v) for v in row) + "},")
    print("};")
    print(f"constexpr size_t kPcaKeptAt95 = {kept};")
    print(f"constexpr double kKMeansInertia = {fmt(km.inertia_)};")
    labels = "".join(str(v) for v in km.labels_)
    print("constexpr std::string_view kKMeansLabels =")
    for i in range(0, ROWS, 75):
        print(f'    "{labels[i:i + 75]}"')
    print("    ;")
    print("constexpr double kKMeansCentres[][6] = {")
    for row in km.cluster_centers_:
        print("    {" + ", ".join(fmt(v) for v in row) + "},")
    print("};")
    from sklearn.ensemble._iforest import _average_path_length
    sizes = [3, 100, 256]
    values = _average_path_length(np.array(sizes))
    print("constexpr std::pair<size_t, double> kAveragePathLengths[] = {")
    print("    " + ", ".join(f"{{{n}, {fmt(v)}}}" for n, v in zip(sizes, values)) + "};")
    return 0


if __name__ == "__main__":
    sys.exit(main())
