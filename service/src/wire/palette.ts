/** r/place 2017's sixteen colours; index = the 4-bit value on the board. */
export const PALETTE = [
  '#FFFFFF', '#E4E4E4', '#888888', '#222222', '#FFA7D1', '#E50000', '#E59500', '#A06A42',
  '#E5D900', '#94E044', '#02BE01', '#00D3DD', '#0083C7', '#0000EA', '#CF6EE4', '#820080',
] as const;
