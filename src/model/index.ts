/** The ResNet of the adaptive trainer: configuration, variables, forward passes, training step, saved form. */
export * from './config';
export * from './resnet';
export * from './forward';
export * from './inference';
export * from './ops';
export * from './train';
export * from './io';
