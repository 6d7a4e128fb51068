"""Results layer: accounting, finance and matching views of a plan Dataset (Datasets in, Datasets and tables out)."""
