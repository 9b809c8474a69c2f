//! A convolution that training can differentiate, computed on the CPU by `nn::conv_gemm`.
//!
//! Training ran every convolution through Burn's autodiff, whose Flex backend computes the
//! forward pass with its own (slower) convolution, the input's gradient as a transposed
//! convolution and the weights' gradient as a convolution with the output gradient as the
//! kernel; those three were most of a training step on the CPU (docs/TRAIN.md). Here the
//! forward pass and the input's gradient (a stride-1 convolution of the output gradient
//! with the kernel flipped and its channels swapped, so Winograd's algorithm applies to it
//! too) go through `conv_gemm`, and the weights' gradient is one matrix product per kernel
//! tap. Registered with Burn as a backend extension: Flex runs it, its autodiff wrapper
//! records the backward step; every other device keeps Burn's own `conv2d`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    AutodiffBackend, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension,
};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape, Tensor, TensorData};

use super::conv_gemm;

/// The two computations Flex runs through `conv_gemm`.
#[backend_extension(Flex, Autodiff)]
pub trait TapConvOps: Backend {
    /// `conv2d(x, weight, bias, options)`.
    fn tap_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// The gradient of the weights of `conv2d(x, weight, _, options)` given its output's.
    fn tap_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

/// `burn::tensor::module::conv2d` with a bias, differentiable, through `conv_gemm` on Flex
/// (with or without autodiff) and Burn's own convolution everywhere else.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let on_flex = matches!(
        x.device().as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    );
    if !on_flex || x.dtype() != DType::F32 {
        return burn_conv2d(x, weight, Some(bias), options);
    }
    let output = <Dispatch as TapConvOps>::tap_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    );
    Tensor::from_dispatch(output)
}

/// `conv.forward(x)` through [`conv2d`] where the module has a bias and a fixed padding.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match (options_of(conv), &conv.bias) {
        (Some(options), Some(bias)) => conv2d(x, conv.weight.val(), bias.val(), options),
        _ => conv.forward(x),
    }
}

/// A convolution module's options, where its padding does not depend on the input.
pub(crate) fn options_of(conv: &Conv2d) -> Option<ConvOptions<2>> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        _ => return None,
    };
    Some(ConvOptions::new_with_padding(
        conv.stride,
        padding,
        conv.dilation,
        conv.groups,
    ))
}

impl TapConvOps for Flex {
    fn tap_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let (x_dims, w_dims) = (dims(&x), dims(&weight));
        let values = (host(&x), host(&weight), host(&bias));
        if let (Some(input), Some(weights), Some(bias_values)) = values {
            let output =
                conv_gemm::conv2d_values(&input, x_dims, &weights, w_dims, &bias_values, &options);
            if let Some(output) = output {
                let out_shape = output_shape(x_dims, w_dims, &options);
                return Flex::float_from_data(TensorData::new(output, out_shape), &x.device());
            }
        }
        Flex::conv2d(x, weight, Some(bias), options)
    }

    fn tap_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let (x_dims, w_dims) = (dims(&x), dims(&weight));
        if let (Some(input), Some(grad)) = (host(&x), host(&output_grad)) {
            let values = conv_gemm::weight_gradient_values(&input, x_dims, &grad, w_dims, &options);
            if let Some(values) = values {
                return Flex::float_from_data(TensorData::new(values, w_dims), &x.device());
            }
        }
        Flex::conv2d_weight_backward(x, weight, output_grad, options)
    }
}

/// The output's `[images, c_out, h, w]` (stride 1: the only case `conv_gemm` takes).
fn output_shape(x_dims: [usize; 4], w_dims: [usize; 4], options: &ConvOptions<2>) -> [usize; 4] {
    let [images, _, in_h, in_w] = x_dims;
    let [c_out, _, kh, kw] = w_dims;
    let [(top, bottom), (left, right)] = options.padding;
    let out_h = in_h + top + bottom - options.dilation[0] * (kh - 1);
    let out_w = in_w + left + right - options.dilation[1] * (kw - 1);
    [images, c_out, out_h, out_w]
}

fn dims(t: &FloatTensor<Flex>) -> [usize; 4] {
    let shape = t.shape();
    std::array::from_fn(|i| shape.as_slice().get(i).copied().unwrap_or(0))
}

/// A Flex tensor's values (row-major), `None` unless they are `f32`.
fn host(t: &FloatTensor<Flex>) -> Option<Vec<f32>> {
    if t.dtype() != DType::F32 {
        return None;
    }
    t.clone().into_data().try_into_vec::<f32>().ok()
}

/// The backward step: the three gradients from the checkpointed input and weights.
#[derive(Debug)]
struct TapConvBackward;

impl<B: Backend + TapConvOps> Backward<B, 3> for TapConvBackward {
    type State = (NodeId, NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, bias_state, options) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_state);
        let bias: FloatTensor<B> = checkpointer.retrieve_node_output(bias_state);
        if let Some(node) = node_x {
            let x_grad = input_gradient::<B>(x.clone(), weight.clone(), grad.clone(), &options);
            grads.register::<B>(node.id, x_grad);
        }
        if let Some(node) = node_weight {
            let w_grad = B::tap_conv2d_weight_grad(x.clone(), weight, grad.clone(), options);
            grads.register::<B>(node.id, w_grad);
        }
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, B::conv2d_bias_backward(x, bias, grad));
        }
    }
}

/// The input's gradient of a stride-1 convolution: the output gradient convolved with the
/// kernel flipped in both directions and its input and output channels swapped, padded by
/// `dilation · (k − 1) − padding` on each side. Where that padding would be negative (a
/// padding wider than the kernel reaches) or the layer is strided or grouped, Burn's own.
fn input_gradient<B: Backend + TapConvOps>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    options: &ConvOptions<2>,
) -> FloatTensor<B> {
    let w_shape = weight.shape();
    let Some(padding) = transposed_padding(&w_shape, options) else {
        return B::conv2d_x_backward(x, weight, grad, options.clone());
    };
    let flipped = B::float_flip(B::float_swap_dims(weight, 0, 1), &[2, 3]);
    let c_in = w_shape.as_slice()[1];
    let no_bias = B::float_zeros(Shape::new([c_in]), &grad.device(), grad.dtype().into());
    let options = ConvOptions::new_with_padding([1, 1], padding, options.dilation, 1);
    B::tap_conv2d(grad, flipped, no_bias, options)
}

fn transposed_padding(w_shape: &Shape, options: &ConvOptions<2>) -> Option<[(usize, usize); 2]> {
    if options.stride != [1, 1] || options.groups != 1 || w_shape.num_dims() != 4 {
        return None;
    }
    let reach = |d: usize| options.dilation[d] * (w_shape.as_slice()[2 + d] - 1);
    let side = |d: usize, pad: usize| reach(d).checked_sub(pad);
    let [(top, bottom), (left, right)] = options.padding;
    Some([
        (side(0, top)?, side(0, bottom)?),
        (side(1, left)?, side(1, right)?),
    ])
}

impl<B: Backend + TapConvOps, C: CheckpointStrategy> TapConvOps for Autodiff<B, C> {
    fn tap_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let prepared = TapConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    prep.checkpoint(&bias),
                    options.clone(),
                );
                let output = B::tap_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    options,
                );
                prep.finish(state, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tap_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                options,
            )),
        }
    }

    /// Computed on the inner backend and not differentiated again: only the backward step
    /// above asks for it, and training needs no second derivatives.
    fn tap_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        <Self as AutodiffBackend>::from_inner(B::tap_conv2d_weight_grad(
            x.into_primitive(),
            weight.into_primitive(),
            output_grad.into_primitive(),
            options,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// The output and the three gradients equal Burn's own autodiff convolution, for the
    /// shapes training meets (3 × 3 with Winograd-sized channels, the CRNN's unpadded
    /// 2 × 2) and the awkward ones: one-sided paddings, dilation, a padding wider than the
    /// kernel reaches (Burn's input gradient then), too few channels for Winograd.
    #[test]
    fn output_and_gradients_equal_burns() {
        let ad = Device::flex().autodiff();
        // (input, weight, padding, dilation)
        type Case = ([usize; 4], [usize; 4], [(usize, usize); 2], [usize; 2]);
        let cases: &[Case] = &[
            ([2, 3, 9, 11], [5, 3, 3, 3], [(1, 1), (1, 1)], [1, 1]),
            ([2, 64, 6, 13], [64, 64, 3, 3], [(1, 1), (1, 1)], [1, 1]),
            ([2, 8, 4, 10], [6, 8, 2, 2], [(0, 0), (0, 0)], [1, 1]),
            ([1, 4, 7, 9], [3, 4, 3, 2], [(0, 1), (2, 0)], [1, 2]),
            ([1, 2, 5, 5], [2, 2, 3, 3], [(3, 3), (3, 3)], [1, 1]),
        ];
        for &(x_shape, w_shape, padding, dilation) in cases {
            let random = |shape: Vec<usize>| Tensor::<4>::random(shape, Distribution::Default, &ad);
            let x = random(x_shape.to_vec()).require_grad();
            let w = random(w_shape.to_vec()).require_grad();
            let b = Tensor::<1>::random([w_shape[0]], Distribution::Default, &ad).require_grad();
            let options = ConvOptions::new_with_padding([1, 1], padding, dilation, 1);
            let ours = conv2d(x.clone(), w.clone(), b.clone(), options.clone());
            let burns = burn_conv2d(x.clone(), w.clone(), Some(b.clone()), options);
            assert_eq!(ours.dims(), burns.dims(), "{x_shape:?} {w_shape:?}");
            // Weights on the output, so that no gradient is a plain sum.
            let r = random(ours.dims().to_vec()).detach();
            close(&ours, &burns, "output", x_shape);
            let our_grads = (ours * r.clone()).sum().backward();
            let burn_grads = (burns * r).sum().backward();
            let grad = |t: &Tensor<4>, g| t.grad(g).expect("a gradient");
            close(&grad(&x, &our_grads), &grad(&x, &burn_grads), "x", x_shape);
            close(&grad(&w, &our_grads), &grad(&w, &burn_grads), "w", x_shape);
            let (ob, bb) = (b.grad(&our_grads).unwrap(), b.grad(&burn_grads).unwrap());
            close(
                &ob.reshape([1, 1, 1, w_shape[0]]),
                &bb.reshape([1, 1, 1, w_shape[0]]),
                "b",
                x_shape,
            );
        }
    }

    fn close(ours: &Tensor<4>, burns: &Tensor<4>, what: &str, case: [usize; 4]) {
        let scale = burns.clone().abs().max().into_scalar::<f32>().max(1.0);
        let diff = (ours.clone() - burns.clone())
            .abs()
            .max()
            .into_scalar::<f32>();
        // Sums of up to a few thousand products, in another order than Burn's.
        assert!(diff <= 1e-4 * scale, "{case:?} {what}: {diff} of {scale}");
    }
}
