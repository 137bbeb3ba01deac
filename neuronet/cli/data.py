"""``neuronet data``: find or fetch each dataset's IDX files and check their md5 sums."""
from ..data import DATASETS, ROLES, locate, verify
from .shared import TITLES


def run_data(args):
    """Find each dataset's four IDX files (fetching them into the cache if missing) and check
    their md5 sums against the published ones. Exit code 1 if any file is BAD."""
    names = tuple(DATASETS) if args.dataset == "all" else (args.dataset,)
    bad = 0
    for name in names:
        paths = locate(name, args.data, cache_dir=args.cache, download=not args.no_download,
                       progress=True)
        print(f"{TITLES[name]}:")
        for role, (path, md5, ok) in zip(ROLES, verify(paths, name)):
            bad += not ok
            print(f"  {role:<12}  {md5}  {'OK ' if ok else 'BAD'}  {path}")
    print("all files OK" if not bad else
          f"{bad} file{'s' if bad > 1 else ''} BAD: not the published data; delete "
          "and fetch again, or point --data at good copies")
    return 1 if bad else 0
