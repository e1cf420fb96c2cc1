/** LiquidMetal (Quicksilver's abbreviation scoring, the algorithm Quay's search uses) ships no types. */
declare module 'liquidmetal' {
  const LiquidMetal: { score(text: string, abbreviation: string): number };
  export default LiquidMetal;
}
