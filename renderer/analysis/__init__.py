"""Gradient inspection (no Qt): losses, gradient buffers, derivative images, the GL reference
derivative, the pixel inspector, diagnostics and loss landscapes.

    from renderer.analysis import loss_gradients, derivative_image, derivative_agreement
    grads = loss_gradients(scene, target, "silhouette")      # dL/dI, dL/dV, dL/dtheta
    d = derivative_image(scene, "azimuth")                   # dI/dtheta by forward mode
    report = derivative_agreement(scene, "azimuth")          # against GL central differences
    for finding in diagnose(scene, target, "silhouette"):
        print(finding)
"""
from .agreement import (Agreement, AgreementReport, agreement_table, band_scale_px,
                        compare_derivatives, cosine_similarity, derivative_agreement, rgb_composited,
                        sign_agreement, viewed_colour_derivative)
from .compare import GradientComparison, SigmaCurve, compare_gradient_methods, sigma_agreement_curve
from .derivatives import (DerivativeImage, composite_derivative, derivative_double_backward,
                          derivative_fd, derivative_image, derivative_jvp, exact_derivative,
                          gl_fd_derivative, reference_derivative, reference_method)
from .diagnostics import Finding, diagnose
from .gradients import GradientBuffers, loss_and_param_grads, loss_gradients, loss_value, render_rgba
from .element_inspector import ElementTable, register_pixel_inspector
from .element_view import ElementView, element_view, register_element_painter
from .inspector import FaceInfluence, PixelReport, inspect_pixel
from .landscape import Scan, Sweep, loss_scan_2d, loss_sweep
from .losses import (IMAGE_LOSSES, REGULARIZERS, Target, edge_length_loss, flatten_loss, get_loss,
                     normal_consistency_loss, photometric_l1_loss, photometric_l2_loss,
                     silhouette_iou_loss, silhouette_mse_loss, topology_faces, uniform_laplacian_loss)
from .params import (ParamGroup, ParamSpec, element_group, groups_for, param_value, parse_param,
                     register_param_group, scalar_params, with_param, with_params)
from .targets import load_target_image, render_target, target_from_image

__all__ = [
    "Agreement", "AgreementReport", "agreement_table", "band_scale_px", "compare_derivatives",
    "cosine_similarity", "derivative_agreement", "sign_agreement", "rgb_composited",
    "viewed_colour_derivative", "GradientComparison", "SigmaCurve", "compare_gradient_methods",
    "sigma_agreement_curve", "exact_derivative", "gl_fd_derivative", "reference_method", "DerivativeImage",
    "composite_derivative", "derivative_double_backward", "derivative_fd", "derivative_image",
    "derivative_jvp", "reference_derivative", "Finding", "diagnose", "GradientBuffers",
    "loss_and_param_grads", "loss_gradients", "loss_value", "render_rgba", "FaceInfluence",
    "PixelReport", "inspect_pixel", "ElementTable", "register_pixel_inspector", "ElementView", "element_view", "register_element_painter", "Scan", "Sweep", "loss_scan_2d", "loss_sweep", "IMAGE_LOSSES",
    "REGULARIZERS", "Target", "edge_length_loss", "flatten_loss", "get_loss",
    "normal_consistency_loss", "photometric_l1_loss", "photometric_l2_loss", "silhouette_iou_loss",
    "silhouette_mse_loss", "topology_faces", "uniform_laplacian_loss", "ParamGroup", "ParamSpec", "element_group", "groups_for", "register_param_group", "param_value",
    "parse_param", "scalar_params", "with_param", "with_params", "load_target_image", "render_target", "target_from_image",
]
