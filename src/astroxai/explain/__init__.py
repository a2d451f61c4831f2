"""Explanations of classifier decisions.  ``bridge`` turns fitted scikit-learn SVMs into torch modules with the
same probabilities, so that gradients (and every captum attribution method) apply to them."""
