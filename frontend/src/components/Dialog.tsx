import type { HTMLAttributes, ReactNode } from 'react';

/** A modal dialog over a dimmed page, named by its heading (`titleId`). Escape calls `onEscape`;
 * leave it out while the dialog is busy. Other attributes (a test id, `aria-busy`) go on the dialog. */
export function Dialog({
  titleId,
  onEscape,
  className,
  backdropClassName,
  children,
  ...attributes
}: {
  titleId: string;
  onEscape?: () => void;
  className?: string;
  backdropClassName?: string;
  children: ReactNode;
} & Omit<HTMLAttributes<HTMLDivElement>, 'className' | 'children'>) {
  return (
    <div className={backdropClassName ? `dialog-backdrop ${backdropClassName}` : 'dialog-backdrop'}>
      <div
        {...attributes}
        className={className ? `dialog ${className}` : 'dialog'}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        onKeyDown={(event) => {
          if (event.key === 'Escape') onEscape?.();
        }}
      >
        {children}
      </div>
    </div>
  );
}
