"""A folder of synthetic 'faces' in ImageFolder layout, made offline: for tests and plumbing, not for quality.

    python -m grading.ta.synthetic_faces DIR [--count 512] [--seed 0]

Each image is a coloured ellipse (a face, in a random skin-like tone, size and position) with two dark
eyes and a mouth on a random background, 40 wide and 48 high (not square, so the loader's crop matters),
written as PNG to DIR/synthetic/face-NNNNN.png. No real face images ship with the kit or its tests.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 40, 48


def draw_face(rng, width=WIDTH, height=HEIGHT):
    """One synthetic face (PIL RGB image)."""
    background = tuple(int(v) for v in rng.integers(0, 256, size=3))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    skin = tuple(
        int(v) for v in np.clip(np.array([200, 150, 120]) * rng.uniform(0.5, 1.2) + rng.normal(0, 15, 3), 0, 255)
    )
    cx, cy = width / 2 + rng.normal(0, 2), height / 2 + rng.normal(0, 2)
    rx, ry = width * rng.uniform(0.28, 0.38), height * rng.uniform(0.3, 0.4)
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin)
    hair = tuple(int(v) for v in rng.integers(0, 120, size=3))
    draw.chord([cx - rx, cy - ry, cx + rx, cy + ry * 0.2], 180, 360, fill=hair)
    eye_y, eye_dx, eye_r = cy - ry * 0.05, rx * rng.uniform(0.35, 0.5), max(1.5, rx * 0.12)
    for side in (-1, 1):
        draw.ellipse(
            [cx + side * eye_dx - eye_r, eye_y - eye_r, cx + side * eye_dx + eye_r, eye_y + eye_r], fill=(20, 20, 30)
        )
    mouth_y, mouth_w = cy + ry * 0.5, rx * rng.uniform(0.3, 0.6)
    draw.arc(
        [cx - mouth_w, mouth_y - ry * 0.15, cx + mouth_w, mouth_y + ry * 0.15], 0, 180, fill=(120, 30, 40), width=2
    )
    return image


def write_faces(root, count=512, seed=0, folder="synthetic"):
    """Write `count` synthetic faces under root/folder/; returns root (an ImageFolder root)."""
    root = Path(root)
    out = root / folder
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        draw_face(rng).save(out / f"face-{index:05d}.png")
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--count", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_faces(args.root, args.count, args.seed)
    print(f"wrote {args.count} synthetic faces under {args.root / 'synthetic'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
