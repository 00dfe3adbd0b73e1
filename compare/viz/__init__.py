"""Pictures: matplotlib figures for reports and TensorBoard, and the attention explorer page."""
