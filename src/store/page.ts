export interface PageRequest {
  /** The id of the last item of the previous page; null for the first page. */
  after: string | null;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** The id to pass as `after` for the next page; null on the last page. */
  next: string | null;
}
