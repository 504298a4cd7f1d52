"""Render an edgecnn HTML report in headless Chromium and save a screenshot to look at.

Run on demand:  python benchmarks/render_report.py REPORT.html [--out shot.png] [--height 6000]
Needs Debian's `chromium` (apt-get install chromium); not part of the test suite, which checks
the HTML's structure and images without a browser. Prints the render time and checks that
the screenshot is a PNG of the requested size that is not blank.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("report_screenshot.png"))
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=6000)
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    start = time.perf_counter()
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={args.width},{args.height}",
                    f"--screenshot={args.out.resolve()}", args.report.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    seconds = time.perf_counter() - start
    from PIL import Image

    with Image.open(args.out) as image:
        size = image.size
        extrema = image.convert("L").getextrema()
    print(f"rendered {args.report} in {seconds:.1f} s -> {args.out} {size[0]}x{size[1]}, "
          f"grey levels {extrema[0]}..{extrema[1]} "
          f"({'not blank' if extrema[0] < extrema[1] else 'BLANK'})")


if __name__ == "__main__":
    main()
