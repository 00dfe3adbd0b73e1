"""compare-lab's parts: finding and loading trained models, parsing inputs, influence, the page."""
