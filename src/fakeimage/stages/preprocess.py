"""preprocess: decode, deduplicate and split data/raw, the generator zoo's samples and the
user's own sources in data/extra (when there are any) into uint8 arrays that keep each image's
source, plus a data report."""

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.dataset import SPLIT_NAMES, save_split
from fakeimage.data.preprocess import preprocess
from fakeimage.paths import DATA_REPORT, EXTRA_DIR, RAW_DIR, ZOO_DIR, split_path


def run(params: Params) -> None:
    data = params.data
    datasets, report = preprocess(
        RAW_DIR,
        max_bad_fraction=data.max_bad_fraction,
        val_fraction=data.val_fraction,
        test_fraction=data.test_fraction,
        seed=data.split_seed,
        extra_dirs=tuple(folder for folder in (ZOO_DIR, EXTRA_DIR) if folder.is_dir()),
        weights=data.weights,
        balance=data.balance,
    )
    for name in SPLIT_NAMES:
        save_split(datasets[name], split_path(name))
    write_json(DATA_REPORT, report)
    sizes = ", ".join(f"{name} {report['splits'][name]['total']:,}" for name in SPLIT_NAMES)
    print(
        f"preprocess: {report['images']:,} images, {report['bad_files']['count']} bad files, "
        f"{report['duplicates_removed']['total']} duplicates removed -> {sizes}"
    )
