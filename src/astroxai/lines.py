"""Rest-frame vacuum wavelengths (Å) of the spectral features astroxai draws, simulates and explains.

Values are the vacuum wavelengths used by SDSS (see ``docs`` and the shared facts sheet).
"""

#: The seven lines the paper marks on its saliency maps, in wavelength order.
DIAGNOSTIC_LINES: dict[str, float] = {
    "[O II] 3727": 3728.48,  # doublet 3727.09 / 3729.88, drawn at its centroid
    "He I 3889": 3889.75,
    "Hδ": 4102.89,
    "Hγ": 4341.68,
    "Hβ": 4862.68,
    "[O III] 4959": 4960.30,
    "[O III] 5007": 5008.24,
}

#: Balmer series (vacuum Å).
BALMER: dict[str, float] = {
    "Hα": 6564.61,
    "Hβ": 4862.68,
    "Hγ": 4341.68,
    "Hδ": 4102.89,
    "Hε": 3971.20,
    "H8": 3890.17,
    "H9": 3836.47,
    "H10": 3798.98,
}

#: Speed of light in km/s.
C_KMS = 299_792.458

#: Paper's adopted common rest-frame range (Peruzzi et al. 2021, Table 1).
PAPER_RANGE = (3728.91, 5265.95)

#: The reduction normalises every spectrum at this rest wavelength (Å), by the median flux within ±NORM_HALF_WIDTH Å:
#: 5080–5120 Å is the usual AGN continuum window, clear of [O III] 5007, of Mg b / [Fe VII] 5159 and of the strongest
#: Fe II.  The noise levels of the robustness test are in units of that flux.
NORM_WAVELENGTH = 5100.0
NORM_HALF_WIDTH = 20.0
