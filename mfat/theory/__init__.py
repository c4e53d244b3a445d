"""Closed forms of the book: pure functions in float64, no torch. One module per chapter stem.

- :mod:`.meanfield`              alpha, omega, Theorem 4.1 variances, the signal recursion q^(l) (chapters 0-1)
- :mod:`.random_linear_map`      exact finite-width moments of J and a, input correlations (chapter 1)
- :mod:`.adversarial_loss`       beta_{p,q} and the adversarial-loss bound of Theorem 5.1 (chapter 2)
- :mod:`.weight_variance`        weight variance under adversarial training, Theorem 5.4 (chapter 3)
- :mod:`.trainability`           (M, m)-trainability, Lemma 5.5, Theorems 5.6 and 5.7 (chapter 4)
- :mod:`.capacity`               the Fisher-Rao norm, Theorem 5.8 (chapter 5)
- :mod:`.perturbation_learning`  the kernel Phi of wide two-layer networks (chapter 6)
- :mod:`.implicit_bias`          margins of adversarial training (chapter 7)
- :mod:`.attack_gaps`            local maxima of the small-eps attack problem (chapter 8)

Every public name of those modules is re-exported here, so ``mfat.theory.omega`` works.
"""

from mfat.theory.meanfield import (  # noqa: F401
    alpha,
    omega,
    var_J,
    var_a,
    signal_recursion,
    output_second_moment,
    critical_sigma_w2,
)
from mfat.theory.random_linear_map import (  # noqa: F401
    finite_width_moments,
    jacobian_excess_kurtosis,
    linear_map_input_correlation,
    orthant_moments,
    scale_mixture_ks,
    SCALE_MIXTURE_KS_CONSTANT,
)
from mfat.theory.adversarial_loss import (  # noqa: F401
    beta,
    adversarial_loss_bound,
    chi_mean,
    PQ_MEANING,
)
from mfat.theory.weight_variance import (  # noqa: F401
    residual_fraction,
    variance_slope,
    slope_from_measured_Ladv,
    sigma_w2_linear,
    sigma_w2_ode,
    sigma_w2_weight_decay,
    frozen_rate_validity_time,
)
from mfat.theory.trainability import (  # noqa: F401
    gain,
    trainable_interval,
    is_trainable,
    exit_threshold_sigma_w2,
    exit_time,
    critical_width,
    residual_stays_trainable,
    LAWS,
)
from mfat.theory.capacity import (  # noqa: F401
    fisher_rao_layer_terms,
    fisher_rao_expectation,
    fisher_rao_dsigma2,
    fisher_rao_adversarial_slope,
    fisher_rao_linear,
    fisher_rao_radial_slope,
)
from mfat.theory.perturbation_learning import (  # noqa: F401
    kernel_correlation,
    kernel_from_angle,
    phi_kernel,
    phi_kernel_diagonal,
    lazy_output_change,
    lazy_gradient_change,
)
from mfat.theory.implicit_bias import (  # noqa: F401
    l2_robust_margin,
    adversarial_loss_floor,
    margin_gap_bound,
    rank_one_bound,
    alignment_bound,
)
from mfat.theory.attack_gaps import (  # noqa: F401
    local_maxima_bound,
    closed_form,
    NP_HARD,
)

from mfat.theory import (  # noqa: E402
    adversarial_loss,
    attack_gaps,
    capacity,
    implicit_bias,
    meanfield,
    perturbation_learning,
    random_linear_map,
    trainability,
    weight_variance,
)

# the union of the modules' public names, in chapter order (each module's __all__ is its one list)
__all__ = [
    *meanfield.__all__,
    *random_linear_map.__all__,
    *adversarial_loss.__all__,
    *weight_variance.__all__,
    *trainability.__all__,
    *capacity.__all__,
    *perturbation_learning.__all__,
    *implicit_bias.__all__,
    *attack_gaps.__all__,
]
