"""The optimization tasks: pose, shape, color (vertex colours) and light."""
from .appearance import ColorTask, LightTask, position_colors
from .base import ParamGroup, Task, wrap_degrees
from .pose import PoseTask, rotation_matrix, start_from_position
from .shape import ShapeTask, chamfer_distance, laplacian_norm_loss, silhouette_ious, welded

__all__ = ["ColorTask", "LightTask", "position_colors", "ParamGroup", "Task", "wrap_degrees", "PoseTask",
           "rotation_matrix", "start_from_position", "ShapeTask", "chamfer_distance", "laplacian_norm_loss",
           "silhouette_ious", "welded"]
