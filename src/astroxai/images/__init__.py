"""Survey images: ``ImageSet`` (N × C × H × W cutouts with labels, ground-truth masks and metadata, stored in
HDF5 without pickle) and readers for FITS cutouts (with their WCS) and PNG/JPEG files.

The image counterpart of :mod:`astroxai.dataset` (spectra): same ideas, same storage rules, so that the explain
machinery can treat a spectrum and an image as an array with a label.
"""

from astroxai.images.imageset import ImageSet, read_image, read_images

__all__ = ["ImageSet", "read_image", "read_images"]
