"""The theory lab's colours: one per curve across the 1-D figures, so p_data, p_g, D and D* read the same in each."""

__all__ = ["DATA_COLOUR", "DSTAR_COLOUR", "D_COLOUR", "GEN_COLOUR"]

DATA_COLOUR, GEN_COLOUR, D_COLOUR, DSTAR_COLOUR = "#1f77b4", "#2ca02c", "#d62728", "#444444"
