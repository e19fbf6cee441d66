"""Voxel grids (occupancy probabilities) and their renderers: DRC ray termination (``drc``),
emission-absorption raymarching (``drc_ea``) and the GL ray-marched reference (``gl_voxel``).
See docs/voxels.md for the conventions and formulas."""
from .drc import (BG_WEIGHT, MAX_DEPTH, Termination, drc_depth_loss, drc_mask_loss, event_cost,
                  render_drc, termination, termination_from_occupancy)
from .ea import emission_absorption, render_drc_ea
from .files import (VoxelFileError, binvox_bytes, read_binvox, read_npy, read_npz, voxelize,
                    write_binvox, write_npz)
from .grid import VoxelGrid, VoxelGridError
from .traversal import CellSegments, grid_segments, pixel_rays, traverse

__all__ = ["BG_WEIGHT", "CellSegments", "MAX_DEPTH", "Termination", "VoxelFileError", "VoxelGrid",
           "VoxelGridError", "binvox_bytes", "drc_depth_loss", "drc_mask_loss", "emission_absorption",
           "event_cost", "grid_segments", "pixel_rays", "read_binvox", "read_npy", "read_npz",
           "render_drc", "render_drc_ea", "termination", "termination_from_occupancy", "traverse",
           "voxelize", "write_binvox", "write_npz"]
